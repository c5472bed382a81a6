package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/policy"
)

// collect + evaluate is scan, split in two: the same snapshot gives byte-identical reports.
func TestCollectThenEvaluateEqualsScan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	scanDir, evalDir := filepath.Join(h.dir, "scan"), filepath.Join(h.dir, "eval")
	snap := filepath.Join(h.dir, "snapshot.json")

	scanCode := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", scanDir, "--quiet")
	require.Equal(t, 0, h.run("collect", "--config", h.cfgPath, "-o", snap, "--quiet"), h.stderr.String())
	st, err := os.Stat(snap)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "snapshots carry tenant data")
	evalCode := h.run("evaluate", snap, "--format", "json", "--output", evalDir, "--quiet")

	assert.Equal(t, scanCode, evalCode)
	a, err := os.ReadFile(filepath.Join(scanDir, "report.json"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(evalDir, "report.json"))
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))
}

func TestEvaluateRefusesSnapshotsItCannotRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	cases := map[string]struct{ body, want string }{
		"newer":      {`{"schema_version": 99, "tenants": []}`, "unsupported snapshot schema_version 99: this build reads versions 1 to 3; upgrade audit to read it"},
		"no version": {`{"tenants": []}`, "the file has no schema_version"},
		"not json":   {`<html>`, "not a snapshot (invalid JSON)"},
	}
	for name, tc := range cases {
		p := filepath.Join(h.dir, name+".json")
		require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o600))
		assert.Equal(t, exitUsage, h.run("evaluate", p), name)
		assert.Contains(t, h.stderr.String(), tc.want, name)
	}
}

func TestFailOnSetsTheThresholdOfExitCode3(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	// Only W365.ROLES.3 (medium) fails in the sandbox.
	base := []string{"scan", "--config", h.cfgPath, "--env", "Contoso Sandbox", "--format", "json", "--output", h.dir, "--quiet"}
	assert.Equal(t, exitOK, h.run(append(base, "--fail-on", "high")...))
	assert.Equal(t, exitFailing, h.run(append(base, "--fail-on", "medium")...))
	assert.Equal(t, exitFailing, h.run(append(base, "--fail-on", "low")...))
	rep := readReport(t, h.dir)
	assert.Equal(t, 1, rep.Summary.FailingAtOrAbove)
	assert.Equal(t, 1, rep.Summary.BySeverity["medium"]["fail"])
	assert.Equal(t, exitUsage, h.run(append(base, "--fail-on", "severe")...))
	assert.Contains(t, h.stderr.String(), "use one of critical, high, medium, low")
}

func TestDemoShowsAnActiveAndAnExpiredWaiver(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	out := filepath.Join(h.dir, "demo")
	code := h.run(append([]string{"demo", "--config", "../../testdata/tenants/demo-config.yaml", "--format", "table,json", "--output", out},
		tenantFlags(demoFixtures)...)...)
	require.Equal(t, exitOK, code, h.stderr.String())
	rep := readReport(t, out)
	var waived, expired *policy.Result
	for i, r := range rep.Results {
		switch {
		case r.EnvironmentName == "Contoso Sandbox" && r.RuleID == "W365.ROLES.3":
			waived = &rep.Results[i]
		case r.EnvironmentName == "Contoso Legacy" && r.RuleID == "W365.JOBS.1":
			expired = &rep.Results[i]
		}
	}
	require.NotNil(t, waived)
	assert.Equal(t, policy.StatusWaived, waived.Status)
	assert.Equal(t, &policy.WaiverInfo{Reason: "Data migration of historical invoices needs full access until the cut-over",
		Owner: "jdoe@contoso.onmicrosoft.com", Ticket: "CHG-2291", Expires: "2027-06-30"}, waived.Waiver)
	require.NotNil(t, expired)
	assert.Equal(t, policy.StatusFail, expired.Status)
	require.NotNil(t, expired.Waiver)
	assert.True(t, expired.Waiver.Expired)
	require.Len(t, rep.Warnings, 1)
	assert.Contains(t, rep.Warnings[0], "W365.JOBS.1")
	assert.Contains(t, rep.Warnings[0], "expired on 2026-10-31")

	// Every rule fails somewhere and passes somewhere in the demo.
	seen := map[string]map[string]bool{}
	for _, r := range rep.Results {
		if seen[r.RuleID] == nil {
			seen[r.RuleID] = map[string]bool{}
		}
		seen[r.RuleID][string(r.Status)] = true
	}
	for id, s := range seen {
		assert.True(t, s[string(policy.StatusFail)] && s[string(policy.StatusPass)], "%s fails and passes somewhere: %v", id, s)
	}
}

func tenantFlags(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, "--tenant", p)
	}
	return out
}

func TestCustomPolicyDirectoriesFromTheCommandLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	out := filepath.Join(h.dir, "custom")
	h.run("scan", "--config", h.cfgPath, "--policy-dir", "../../internal/policy/testdata/custom/good", "--format", "json", "--output", out, "--quiet")
	rep := readReport(t, out)
	assert.Len(t, rep.Rules, 16)
	assert.Contains(t, rep.Policy.Sources, "../../internal/policy/testdata/custom/good")
	n := 0
	for _, r := range rep.Results {
		if r.RuleID == "ACME.NAMING.1" {
			n++
			assert.Equal(t, "low", r.Severity)
		}
	}
	assert.Equal(t, len(rep.Environments), n, "the custom rule is evaluated on every environment")

	code := h.run("scan", "--config", h.cfgPath, "--policy-dir", "../../internal/policy/testdata/custom/nosev")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, h.stderr.String(), "testdata/custom/nosev/acme/bad/bad.rego: rule ACME.BAD.1 has no custom.severity")

	assert.Equal(t, exitOK, h.run("policies", "test", "--policy-dir", "../../internal/policy/testdata/custom/good"))
	assert.Contains(t, h.stdout.String(), "0 failed")
}

func TestPoliciesListAndShow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	require.Equal(t, exitOK, h.run("policies", "list"))
	lines := strings.Split(strings.TrimSpace(h.stdout.String()), "\n")
	assert.Len(t, lines, 16)
	assert.Regexp(t, `^W365\.APPUSER\.1\s+critical\s+An application user exists`, lines[1])

	require.Equal(t, exitOK, h.run("policies", "show", "w365.roles.2"))
	assert.Contains(t, h.stdout.String(), "W365.ROLES.2  The application user holds Work 365 Portal Service")
	assert.Contains(t, h.stdout.String(), "Guide:        Step 3: Assign Security Roles")
	assert.Contains(t, h.stdout.String(), "automatic (audit fix)")

	assert.Equal(t, exitUsage, h.run("policies", "show", "W365.NOPE.1"))
	assert.Contains(t, h.stderr.String(), "known rules are W365.APPUSER.1")
}

func TestRulesDocIsGeneratedFromTheMetadata(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	require.Equal(t, exitOK, h.run("policies", "docs"))
	want, err := os.ReadFile("../../docs/rules.md")
	if *update {
		require.NoError(t, os.WriteFile("../../docs/rules.md", h.stdout.Bytes(), 0o644))
		return
	}
	require.NoError(t, err, "docs/rules.md is missing: run go test ./cmd/audit -run TestRulesDoc -update")
	assert.True(t, bytes.Equal(want, h.stdout.Bytes()), "docs/rules.md is out of date: run go test ./cmd/audit -run TestRulesDoc -update")
}
