package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
)

// A scan with --history keeps the exit code contract, prints its drift in one line and leaves an
// owner-only store; --keep applies the retention.
func TestScanWithAHistoryComparesEachRunWithThePreviousOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "state", "history.db")
	scan := func(extra ...string) int {
		return h.run(append([]string{"scan", "--config", h.cfgPath, "--format", "json", "--output", filepath.Join(h.dir, "out"), "--history", hist}, extra...)...)
	}
	require.Equal(t, exitUnaudited, scan(), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: run 1 is the first of its scope")
	first := readReport(t, filepath.Join(h.dir, "out"))
	assert.Nil(t, first.Drift)
	assert.Nil(t, first.Trends, "the first run has no trends")
	for p, mode := range map[string]os.FileMode{filepath.Dir(hist): 0o700, hist: 0o600, hist + ".lock": 0o600} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), p)
	}

	require.Equal(t, exitUnaudited, scan(), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: 0 new failures, 0 resolved, 22 persisting (oldest since 26 Nov 2026), 0 inventory changes since run 1 (26 November 2026, 12:00 UTC)")
	rep := readReport(t, filepath.Join(h.dir, "out"))
	require.NotNil(t, rep.Drift)
	assert.Equal(t, 22, rep.Drift.Summary.Persisting)
	// And the trends of both runs, the same twice.
	require.NotNil(t, rep.Trends)
	require.Len(t, rep.Trends.Runs, 2)
	assert.Equal(t, []int64{1, 2}, []int64{rep.Trends.Runs[0].RunID, rep.Trends.Runs[1].RunID})
	assert.Equal(t, rep.Trends.Runs[0].Failing, rep.Trends.Runs[1].Failing)
	assert.Equal(t, rep.Summary.BySeverity["critical"]["fail"], rep.Trends.Runs[1].Failing["critical"])
	assert.Len(t, rep.Trends.Rules, len(rep.Rules))
	assert.Len(t, rep.Trends.Environments, len(rep.Environments))

	// A scan of one environment is compared with the previous scan of that environment only.
	require.Equal(t, exitOK, scan("--env", "Contoso Production"), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: run 3 is the first of its scope")
	require.Equal(t, exitOK, scan("--env", "Contoso Production", "--keep", "2", "--quiet"), h.stderr.String())
	assert.Empty(t, h.stderr.String(), "--quiet: no notes")

	st, err := history.Open(context.Background(), hist)
	require.NoError(t, err)
	runs, err := st.Runs(context.Background())
	require.NoError(t, err)
	st.Close()
	require.Len(t, runs, 2, "--keep 2 kept the two newest runs")
	assert.Equal(t, []int64{3, 4}, []int64{runs[0].ID, runs[1].ID})
	assert.Equal(t, "env=Contoso Production", runs[1].Scope)
	assert.Equal(t, exitOK, runs[1].ExitCode)
	assert.NotEmpty(t, runs[1].ToolDigest)
	assert.NotEmpty(t, runs[1].PolicyDigest)

	require.Equal(t, exitOK, h.run("history", "show", "latest", "--history", hist, "--format", "json", "--output", "-"))
	assert.Contains(t, h.stdout.String(), `"name": "Contoso Production"`)
}

// Two runs never interleave on one store: the second is refused with a message that says why and what to
// do, before it reads anything.
func TestAScanIsRefusedWhileAnotherRunHoldsTheHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "history.db")
	held, err := history.Acquire(context.Background(), hist, testNow)
	require.NoError(t, err)
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--history", hist)
	assert.Equal(t, exitError, code)
	assert.Contains(t, h.stderr.String(), "audit: history "+hist+": the history is in use by another run (pid ")
	assert.Contains(t, h.stderr.String(), "runs on one history never interleave; wait for it to finish, or give this run another --history file")
	assert.NoDirExists(t, out)
	assert.Zero(t, h.server("contoso").Stats().Requests)

	// The scheduler logs the refusal of that run and goes on with the next one.
	clock := &fakeClock{now: testNow.Add(-time.Hour), before: map[int]func(){2: func() { held.Close() }}}
	o := scheduleOf(h, clock, 2)
	o.scan.history.Path = hist
	require.NoError(t, runSchedule(context.Background(), h.g, o))
	assert.Contains(t, h.stderr.String(), "audit: run 1: history "+hist+": the history is in use by another run")
	assert.Contains(t, h.stderr.String(), "history: recorded run 1")
}

// When the run cannot be written to the history, the scan fails with the reason, and its reports are there.
func TestAHistoryThatCannotBeWrittenFailsTheScanButKeepsItsReports(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "history.db")
	out := filepath.Join(h.dir, "out")
	require.Equal(t, exitOK, h.run("scan", "--config", h.cfgPath, "--env", "Contoso Production", "--format", "json", "--output", out, "--history", hist))
	db, err := sql.Open("sqlite", "file:"+hist)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TRIGGER full BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(filepath.Join(out, "report.json")))

	code := h.run("scan", "--config", h.cfgPath, "--env", "Contoso Production", "--format", "json", "--output", out, "--history", hist)
	assert.Equal(t, exitError, code)
	msg := h.stderr.String()
	assert.Contains(t, msg, "audit: record run 2 in the history "+hist+": record run: ")
	assert.Contains(t, msg, "database or disk is full")
	assert.Contains(t, msg, "(the reports of this run are in "+out+")")
	assert.FileExists(t, filepath.Join(out, "report.json"))
	assert.True(t, strings.Count(msg, "\n") >= 1)
}

// An outage is not a baseline. Run 1 reads everything; during runs 2 and 3 Contoso Finance and Contoso
// Production cannot be read (every GET answers 403) and Fabrikam's environment list fails; meanwhile an
// administrator takes Basic User from Finance's application user (a failure fixed during the outage) and
// takes Work 365 Service from Production's (a failure that starts during it). Run 4 reads everything again
// and compares each pair with the last run that read it: run 1. Nothing that failed in run 1 comes back as
// new, first-seen dates are run 1's, the fix is resolved and the removal is new, and the notifications say
// exactly that.
func TestAnOutageIsNeverTheBaselineOfWhatItCouldNotRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	rcv := newHookReceiver(t)
	withEnv(h, map[string]string{"HOOK_URL": rcv.srv.URL + "/hook"})
	appendConfig(t, h, `notify:
  - {name: feed, type: webhook, url_env: HOOK_URL, on: [new_failures, resolved, inventory], allow_private_targets: true}
`)
	contoso, fabrikam := h.server("contoso"), h.server("fabrikam")
	down := emulator.Faults{Rules: []emulator.FaultRule{{Match: "GET", Status: http.StatusForbidden}}}
	clock := &fakeClock{now: testNow.Add(-30 * time.Minute)}
	var sent []map[string]int
	clock.before = map[int]func(){
		2: func() {
			sent = append(sent, rcv.counts())
			require.NoError(t, contoso.SetFaults("Contoso Finance", down))
			require.NoError(t, contoso.SetFaults("Contoso Production", down))
			require.NoError(t, fabrikam.SetBAPFaults(emulator.Faults{Rules: []emulator.FaultRule{{Status: http.StatusForbidden}}}))
		},
		3: func() {
			sent = append(sent, rcv.counts())
			// Writes still go through: only reads fail.
			removeRole(t, h, "Contoso Finance", "Basic User")
			removeRole(t, h, "Contoso Production", "Work 365 Service")
		},
		4: func() {
			sent = append(sent, rcv.counts())
			require.NoError(t, contoso.SetFaults("Contoso Finance", emulator.Faults{}))
			require.NoError(t, contoso.SetFaults("Contoso Production", emulator.Faults{}))
			require.NoError(t, fabrikam.SetBAPFaults(emulator.Faults{}))
		},
	}
	o := scheduleOf(h, clock, 4)
	require.NoError(t, runSchedule(context.Background(), h.g, o))

	dirs := []string{"2026-11-26T120100Z", "2026-11-26T180100Z", "2026-11-27T000100Z", "2026-11-27T060100Z"}
	var reps []*report.Report
	for _, d := range dirs {
		reps = append(reps, readReport(t, filepath.Join(h.dir, "runs", d)))
	}
	first := reps[0].CollectedAt
	require.Equal(t, testNow.Add(time.Minute), first)
	failing := func(r *report.Report, env string) []string {
		var out []string
		for _, res := range r.Results {
			if res.EnvironmentName == env && res.Status == "fail" {
				out = append(out, res.RuleID)
			}
		}
		return out
	}
	require.NotEmpty(t, failing(reps[0], "Contoso Finance"))
	require.Contains(t, failing(reps[0], "Contoso Finance"), "W365.ROLES.3")
	require.NotEmpty(t, failing(reps[0], "Fabrikam Sandbox"))
	require.Empty(t, failing(reps[0], "Contoso Production"))
	for _, r := range reps[1:3] {
		require.NotEmpty(t, r.Tenants[1].Error, "fabrikam's environment list failed during the outage")
		require.Empty(t, failing(r, "Contoso Finance"), "Finance could not be read during the outage")
	}

	// During the outage nothing is resolved or new for what could not be read.
	for _, r := range reps[1:3] {
		assert.Empty(t, driftLines(r.Drift), "run %d", r.Drift.Baseline.RunID+1)
	}

	// After it, each pair is compared with run 1, the last run that read it.
	d := reps[3].Drift
	require.NotNil(t, d)
	assert.Equal(t, int64(3), d.Baseline.RunID, "the drift's baseline is the previous run")
	assert.Equal(t, []string{
		"new Contoso Production W365.ROLES.1",
		"resolved Contoso Finance W365.ROLES.3 pass",
		"role_removed Contoso Finance Basic User",
		"role_removed Contoso Production Work 365 Service",
	}, driftLines(d))
	for _, x := range append(append([]report.DriftResult{}, d.NewFailures...), d.Resolved...) {
		require.NotNil(t, x.Baseline, x.Environment+" "+x.RuleID)
		assert.Equal(t, int64(1), x.Baseline.RunID, x.Environment+" "+x.RuleID)
		assert.Equal(t, first, x.Baseline.CollectedAt)
	}
	for _, c := range d.Inventory {
		require.NotNil(t, c.Baseline, c.Environment)
		assert.Equal(t, int64(1), c.Baseline.RunID, c.Environment)
	}
	// Every failure that persisted through the outage keeps run 1 as where it was first seen.
	persisting := map[string]bool{}
	for _, p := range d.Persisting {
		persisting[p.Environment+" "+p.RuleID] = true
		assert.Equal(t, first, p.FirstSeen, p.Environment+" "+p.RuleID)
		assert.Equal(t, int64(1), p.FirstSeenRun, p.Environment+" "+p.RuleID)
	}
	for _, env := range []string{"Contoso Finance", "Fabrikam Production", "Fabrikam Sandbox", "Contoso Legacy"} {
		for _, rule := range failing(reps[3], env) {
			assert.True(t, persisting[env+" "+rule], "%s %s persists", env, rule)
		}
	}
	assert.Equal(t, len(failing(reps[0], "Contoso Finance"))-1, len(failing(reps[3], "Contoso Finance")))
	assert.Contains(t, h.stderr.String(), "drift: 1 new failure, 1 resolved, 21 persisting (oldest since 26 Nov 2026), 2 inventory changes since run 3 (27 November 2026, 00:01 UTC); "+
		"11 entries compared with run 1 (26 November 2026, 12:01 UTC), the last scan that could read them\n")

	// Notifications: none during the outage, and after it the one new failure and the one resolution.
	require.Len(t, sent, 3)
	assert.Empty(t, sent[0])
	assert.Empty(t, sent[1], "run 2 announces nothing")
	assert.Empty(t, sent[2], "run 3 announces nothing")
	assert.Equal(t, map[string]int{"/hook": 1}, rcv.counts())
	hook := rcv.last("/hook")
	assert.Equal(t, []any{"new_failures", "resolved", "inventory"}, hook["events"])
	news := hook["new_failures"].([]any)
	require.Len(t, news, 1)
	assert.Equal(t, "W365.ROLES.1", news[0].(map[string]any)["rule_id"])
	assert.Equal(t, "Contoso Production", news[0].(map[string]any)["environment"])
	resolved := hook["resolved"].([]any)
	require.Len(t, resolved, 1)
	assert.Equal(t, "W365.ROLES.3", resolved[0].(map[string]any)["rule_id"])

	// audit diff of the last two runs gives the recorded drift, and says which entries were compared with run 1.
	require.Equal(t, exitOK, h.run("diff", "--history", o.scan.history.Path), h.stderr.String())
	assert.Contains(t, h.stdout.String(), "1 new failure, 1 resolved, 21 persisting (oldest since 26 Nov 2026), 2 inventory changes\n"+
		"11 entries compared with run 1 (26 November 2026, 12:01 UTC), the last scan that could read them.\n")
	require.Equal(t, exitOK, h.run("diff", "--history", o.scan.history.Path, "--format", "json"), h.stderr.String())
	var got report.Drift
	require.NoError(t, json.Unmarshal(h.stdout.Bytes(), &got))
	assert.Equal(t, driftLines(d), driftLines(&got))
}

// The demo keeps its runs in a history when asked: its second run's reports show the trends of both.
func TestTheDemoTwiceWithAHistoryShowsTrends(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist, out := filepath.Join(h.dir, "demo.db"), filepath.Join(h.dir, "out")
	demo := append([]string{"demo", "--config", "../../testdata/tenants/demo-config.yaml", "--format", "json,html", "--output", out,
		"--history", hist, "--quiet"}, tenantFlags(demoFixtures)...)
	require.Equal(t, exitOK, h.run(demo...), h.stderr.String())
	assert.Nil(t, readReport(t, out).Trends)
	require.Equal(t, exitOK, h.run(demo...), h.stderr.String())
	rep := readReport(t, out)
	require.NotNil(t, rep.Trends)
	assert.Len(t, rep.Trends.Runs, 2)
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), `<section class="trends" id="trends"`)
}
