package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// demoGrid is the expected status of every (environment, rule) pair of the demo tenants, rules in ID order:
//
//	APPUSER.1 APPUSER.2 APPUSER.3 BIND.1 BIND.2 GOV.1 INSTALL.1 JOBS.1 LEGACY.1 ROLES.1 ROLES.2 ROLES.3 SERVICE.1 SERVICE.2 SERVICE.3
var demoGrid = map[string]string{
	"Contoso Production":     "PPPPPPPPPPPPPPP",
	"Contoso Sandbox":        "PPPPP-PPPPPFPPP",
	"Contoso Legacy":         "F--FFPPF----FFP",
	"Contoso Europe":         "FFPPPPPPFPPPFPP",
	"Contoso Finance":        "PPFPPPPPPPFFPPF",
	"Contoso Training":       "PPPPP-FP-FPPF--",
	"Contoso Marketing":      "---------------",
	"Contoso (default)":      "---------------",
	"Contoso Partner Portal": "EEEEEEEEEEEEEEE",
	"Fabrikam Production":    "PPPPPFPPPPPPPPP",
	"Fabrikam Sandbox":       "F--PP-PP----FFP",
	"Fabrikam Archive":       "---------------",
}

func TestScanOfTheDemoTenantsGivesTheExpectedStatusOfEveryPair(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--config", h.cfgPath, "--format", "table,json", "--output", out)
	assert.Equal(t, exitUnaudited, code, "the Partner Portal environment answers 403: %s", h.stderr)

	rep := readReport(t, out)
	assert.Equal(t, demoGrid, statusGrid(rep))
	assert.Len(t, rep.Rules, 15)
	assert.Equal(t, 1, rep.Summary.Errors)

	// The table names the failing pairs and says why the 403 environment could not be audited.
	assert.Contains(t, h.stdout.String(), "W365.SERVICE.2")
	assert.Contains(t, h.stdout.String(), "Contoso Partner Portal")
	assert.Contains(t, h.stdout.String(), "not a member of the organization")

	// Reports carry tenant data: readable by their owner only.
	st, err := os.Stat(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// The inventory the guide asks admins to record.
	for _, e := range rep.Environments {
		if e.Name != "Contoso Production" {
			continue
		}
		require.NotNil(t, e.Inventory)
		assert.Equal(t, "e4b1a995-abe3-4350-a61c-65fccd32e8bd", e.Inventory.AppID)
		assert.Equal(t, []string{"Work 365 Portal Service", "Work 365 Service"}, e.Inventory.Roles)
		assert.Equal(t, []report.TeamRole{{Role: "Work 365 Portal Service", Team: "Work 365 Integration"}}, e.Inventory.TeamRoles)
		assert.Equal(t, "unique_name", e.Inventory.Work365FoundBy)
		assert.Equal(t, "application", e.Inventory.ServiceUser.Kind)
		assert.Equal(t, "3.6.2.0", e.Inventory.Work365Version)
		assert.Equal(t, "contosoprod", e.Inventory.BusinessUnit)
		assert.Equal(t, policy.StatusPass, e.Status)
	}

	// What real tenants have and a self-made emulator tends to leave out.
	byPair := map[string]policy.Result{}
	for _, r := range rep.Results {
		byPair[r.EnvironmentName+" "+r.RuleID] = r
	}
	envs := map[string]report.Environment{}
	for _, e := range rep.Environments {
		envs[e.Name] = e
	}
	// A role held through a team counts, and the passing result names the team.
	portal := byPair["Contoso Production W365.ROLES.2"]
	assert.Equal(t, policy.StatusPass, portal.Status)
	assert.Contains(t, portal.Message, `holds "Work 365 Portal Service" through team "Work 365 Integration"`)
	assert.Equal(t, "Work 365 Integration", portal.Evidence["teams"].([]any)[0].(map[string]any)["name"])
	// A non-interactive person (access mode 4, no application ID) still holding Work 365 Service is a person.
	legacy := byPair["Contoso Europe W365.LEGACY.1"]
	assert.Equal(t, policy.StatusFail, legacy.Status)
	assert.Contains(t, legacy.Message, `"Old Service Account" (w365svc-eu@contoso.onmicrosoft.com)`)
	// An environment in admin mode is audited: the auditor's application user is a System Administrator.
	assert.Equal(t, policy.StatusPass, byPair["Contoso Sandbox W365.ROLES.1"].Status)
	assert.Equal(t, policy.StatusFail, byPair["Contoso Sandbox W365.ROLES.3"].Status, "read completely: its System Administrator role is seen")
	// Templates owned by SYSTEM and INTEGRATION are not "owned by a disabled user".
	assert.Equal(t, policy.StatusPass, byPair["Contoso Production W365.BIND.2"].Status)
	// Work 365 installed under another unique name is found by its friendly name, not reported missing.
	require.NotNil(t, envs["Fabrikam Production"].Inventory)
	assert.Equal(t, "friendly_name", envs["Fabrikam Production"].Inventory.Work365FoundBy)
	assert.Equal(t, "3.8.1.0", envs["Fabrikam Production"].Inventory.Work365Version)
	// A disabled environment is not audited, and says so.
	archive := byPair["Fabrikam Archive W365.ROLES.1"]
	assert.Equal(t, policy.StatusNotApplicable, archive.Status)
	assert.Contains(t, archive.Message, "disabled")
}

// Paging at two rows a page, throttling and transient server errors change nothing in the results; an
// environment that fails for good is reported as error and the exit code says it could not be audited.
func TestScanSurvivesPagingThrottlingAndAFailingEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{MaxPageSize: 2})
	contoso := h.server("contoso")
	require.NoError(t, contoso.SetFaults("Contoso Production", emulator.Faults{Rules: []emulator.FaultRule{
		{Match: "GET systemusers", Status: 429, RetryAfter: 1, Count: 2},
		{Match: "GET roles", Status: 503, Count: 1},
	}}))
	require.NoError(t, contoso.SetFaults("Contoso Legacy", emulator.Faults{Rules: []emulator.FaultRule{
		{Match: "GET workflows", Status: 429, Count: 1},
	}}))
	require.NoError(t, contoso.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{
		{Match: "GET asyncoperations", Status: 403},
	}}))
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitUnaudited, code, h.stderr.String())

	want := map[string]string{}
	for k, v := range demoGrid {
		want[k] = v
	}
	want["Contoso Finance"] = "EEEEEEEEEEEEEEE"
	rep := readReport(t, out)
	assert.Equal(t, want, statusGrid(rep))
	for _, e := range rep.Environments {
		if e.Name == "Contoso Finance" {
			assert.Equal(t, policy.StatusError, e.Status)
			assert.Contains(t, e.Error, "asyncoperations")
		}
	}
	prodID := envID(t, rep, "Contoso Production")
	withFaults := contoso.Stats().ByEnvironment[prodID].Requests

	// The same scan without faults sends exactly the three refused requests fewer: each was retried once.
	require.NoError(t, contoso.SetFaults("Contoso Production", emulator.Faults{}))
	contoso.ResetStats()
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, withFaults-3, contoso.Stats().ByEnvironment[prodID].Requests)
}

func envID(t *testing.T, rep *report.Report, name string) string {
	t.Helper()
	for _, e := range rep.Environments {
		if e.Name == name {
			return e.ID
		}
	}
	t.Fatalf("no environment %s in the report", name)
	return ""
}
