package main

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
)

func TestDoctorSaysWhatToFixAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, demoFixtures[0])
	require.NoError(t, h.server("contoso").SetAccess("Contoso Finance", "read"))
	code := h.run("doctor", "--config", h.cfgPath)
	out := h.stdout.String()
	assert.Equal(t, exitUnaudited, code, out)
	assert.Contains(t, out, "ok    credentials: a token for https://service.powerapps.com/.default was issued")
	assert.Contains(t, out, "ok    admin management application: 9 environments listed, 8 with Dataverse")
	assert.Contains(t, out, "Environment Contoso Partner Portal (Production)\n  FAIL  member: the auditor's app has no application user here")
	assert.Contains(t, out, "Environment Contoso Finance (Production)")
	assert.Contains(t, out, "WARN  write privileges for audit fix: missing prvCreateUser, prvWriteUser, prvAssignRole, prvWritew365_configuration")
	// What a scan discovers of Work 365, with the same requests.
	assert.Contains(t, out, `ok    Work 365: solution "Work365" (Work 365) version 3.6.2.0, found by unique name`)
	assert.Contains(t, out, "ok    Work 365 settings: table w365_configuration, entity set w365_configurations (from metadata)")
	assert.Contains(t, out, "ok    service-user lookup: reads _w365_serviceuserid_value, writes bind through w365_ServiceUserId@odata.bind")
	assert.Contains(t, out, "ok    clear cache: the action w365_ClearCache exists")
	assert.Contains(t, out, `info  Work 365 is not installed (looked for unique name "Work365", friendly name "Work 365")`)
	assert.Contains(t, out, "Environment Contoso Sandbox (Sandbox, runtime state AdminMode)")
	assert.Empty(t, h.server("contoso").Writes())

	// Only the environments that can be fully used: everything in place.
	code = h.run("doctor", "--config", h.cfgPath, "--env", "Contoso Production")
	assert.Equal(t, exitOK, code, h.stdout.String())
	assert.Contains(t, h.stdout.String(), "Everything audit needs is in place.")

	// Read-only access: scans work, fixes would not.
	code = h.run("doctor", "--config", h.cfgPath, "--env", "Contoso Finance")
	assert.Equal(t, exitFailing, code)
	assert.Contains(t, h.stdout.String(), "Scans will work; 1 problem would keep audit fix from working.")

	// An app not registered as an admin management application.
	require.NoError(t, h.server("contoso").SetBAPFaults(emulator.Faults{Rules: []emulator.FaultRule{{Match: "BAP", Status: 403}}}))
	code = h.run("doctor", "--config", h.cfgPath)
	assert.Equal(t, exitUnaudited, code)
	assert.Contains(t, h.stdout.String(), "Admin management applications → + New app → 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b")
}

// Doctor shows what is discovered where it differs: a Work 365 found by its friendly name, a disabled
// environment, an environment without the clear-cache action, and names set in the config.
func TestDoctorShowsWhatWasDiscoveredPerEnvironment(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	h := newHarness(t, emulator.Options{Logf: logf}, demoFixtures[1], northwind)
	h.run("doctor", "--config", h.cfgPath)
	out := h.stdout.String()
	assert.Contains(t, out, `ok    Work 365: solution "W365Billing" (Work 365) version 3.8.1.0, found by friendly name`)
	assert.Contains(t, out, "Environment Fabrikam Archive (Sandbox, runtime state Disabled)\n  info  the environment is disabled")
	assert.Contains(t, out, "Environment Northwind Sandbox (Sandbox)")
	assert.Contains(t, out, "info  clear cache: no action w365_ClearCache here: audit fix lists Clear Cache as a manual step")

	// Names in the config win and cost no metadata request.
	cfg := mustRead(t, h.cfgPath) + "work365:\n  settings_entity_set: w365_configurations\n  service_user_navigation: w365_ServiceUserId\n"
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(cfg), 0o600))
	mu.Lock()
	lines = nil
	mu.Unlock()
	h.run("doctor", "--config", h.cfgPath, "--env", "Fabrikam Production")
	assert.Contains(t, h.stdout.String(), "entity set w365_configurations (from configuration)")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.NotContains(t, l, "EntityDefinitions", "no metadata is read when the config names both")
	}
}
