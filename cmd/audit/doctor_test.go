package main

import (
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
	assert.Contains(t, out, "ok    Work 365: solution Work365 version 3.6.2.0")
	assert.Contains(t, out, "info  Work 365 (solution Work365) is not installed")
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
