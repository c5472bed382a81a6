package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

// audit diff compares two snapshot files (evaluated again) or two JSON reports, without a history.
func TestDiffOfTwoSnapshotOrReportFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	before, after := filepath.Join(h.dir, "before"), filepath.Join(h.dir, "after")
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", before, "--snapshot", filepath.Join(h.dir, "before.json"), "--quiet")
	removeRole(t, h, "Contoso Sandbox", "Work 365 Service")
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", after, "--snapshot", filepath.Join(h.dir, "after.json"), "--quiet")

	// Work 365 Service is critical: the sandbox no longer qualifies, so GOV.1 fails in every production
	// environment of the tenant too.
	want := []string{
		"new Contoso Europe W365.GOV.1",
		"new Contoso Finance W365.GOV.1",
		"new Contoso Legacy W365.GOV.1",
		"new Contoso Production W365.GOV.1",
		"new Contoso Sandbox W365.ROLES.1",
		"role_removed Contoso Sandbox Work 365 Service",
	}
	for _, files := range [][]string{
		{filepath.Join(h.dir, "before.json"), filepath.Join(h.dir, "after.json")},
		{filepath.Join(before, "report.json"), filepath.Join(after, "report.json")},
	} {
		require.Equal(t, exitOK, h.run("diff", files[0], files[1], "--format", "json"), h.stderr.String())
		var d report.Drift
		require.NoError(t, json.Unmarshal(h.stdout.Bytes(), &d))
		assert.Equal(t, want, driftLines(&d), files[0])
		assert.Equal(t, files[0], d.Baseline.File)
		for _, p := range d.Persisting {
			assert.Equal(t, testNow, p.FirstSeen, "without a history, persisting failures are known since the older file")
		}
	}

	require.Equal(t, exitFailing, h.run("diff", filepath.Join(h.dir, "before.json"), filepath.Join(h.dir, "after.json"), "--exit-code"))
	out := h.stdout.String()
	assert.Contains(t, out, "Changes from "+filepath.Join(h.dir, "before.json")+" (26 November 2026, 12:00 UTC) to "+filepath.Join(h.dir, "after.json"))
	assert.Contains(t, out, "5 new failures, 0 resolved, 22 persisting (oldest since 26 Nov 2026), 1 inventory change\n")
	assert.Contains(t, out, "\nNew failures\n  Contoso Europe      W365.GOV.1    low       Tenant \"contoso\" runs Work 365 in production")
	assert.Contains(t, out, "\nInventory changes\n  Contoso Sandbox (contoso)  role \"Work 365 Service\" removed from the application user\n")

	require.Equal(t, exitOK, h.run("diff", filepath.Join(after, "report.json"), filepath.Join(before, "report.json"), "--format", "markdown"))
	assert.Contains(t, h.stdout.String(), "0 new failures, 5 resolved")
	assert.Contains(t, h.stdout.String(), "| Contoso Sandbox | `W365.ROLES.1` | critical | ✅ Pass | less than an hour |")

	for args, want := range map[string][]string{
		"one file":       {"diff", filepath.Join(h.dir, "before.json")},
		"unknown format": {"diff", "a", "b", "--format", "yaml"},
		"not a scan":     {"diff", h.cfgPath, h.cfgPath},
	} {
		assert.Equal(t, exitUsage, h.run(want...), args)
	}
}
