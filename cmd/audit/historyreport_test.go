package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/historyreport"
)

// readHistoryReport reads a JSON history report after checking it against its schema.
func readHistoryReport(t *testing.T, raw []byte) *historyreport.Report {
	t.Helper()
	require.NoError(t, historyreport.ValidateJSON(raw), "history.json does not match docs/history-report.schema.json")
	var r historyreport.Report
	require.NoError(t, json.Unmarshal(raw, &r))
	return &r
}

// Six scheduled scans of the demo tenants, six hours apart on a fake clock, with an administrator's changes
// and an outage between them, then audit history report over their history:
//
//	run 2  Work 365 Service taken from Production's application user (a new failure)
//	run 3  Finance and fabrikam cannot be read; meanwhile Basic User is taken from Finance's application user
//	run 4  everything read again: Finance's extra role is resolved, compared with run 2
//	run 5  Work 365 Service given back to Production's application user (resolved after 18 hours)
func TestHistoryReportOfScheduledScansOfTheDemo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	contoso, fabrikam := h.server("contoso"), h.server("fabrikam")
	down := emulator.Faults{Rules: []emulator.FaultRule{{Match: "GET", Status: http.StatusForbidden}}}
	clock := &fakeClock{now: testNow.Add(-30 * time.Minute)}
	clock.before = map[int]func(){
		2: func() { removeRole(t, h, "Contoso Production", "Work 365 Service") },
		3: func() {
			require.NoError(t, contoso.SetFaults("Contoso Finance", down))
			require.NoError(t, fabrikam.SetBAPFaults(emulator.Faults{Rules: []emulator.FaultRule{{Status: http.StatusForbidden}}}))
			removeRole(t, h, "Contoso Finance", "Basic User")
		},
		4: func() {
			require.NoError(t, contoso.SetFaults("Contoso Finance", emulator.Faults{}))
			require.NoError(t, fabrikam.SetBAPFaults(emulator.Faults{}))
		},
		5: func() { assignRole(t, h, "Contoso Production", "Work 365 Service") },
	}
	o := scheduleOf(h, clock, 6)
	o.scan.report.formats = "json"
	require.NoError(t, runSchedule(context.Background(), h.g, o))
	hist := o.scan.history.Path

	out := filepath.Join(h.dir, "history-report")
	require.Equal(t, exitOK, h.run("history", "report", "--history", hist, "--format", "html,markdown,json", "--output", out), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "wrote "+filepath.Join(out, "history.html")+", "+filepath.Join(out, "history.json")+", "+filepath.Join(out, "history.md")+" (6 runs, ")
	for _, name := range []string{"history.html", "history.md", "history.json"} {
		st, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	r := readHistoryReport(t, []byte(mustRead(t, filepath.Join(out, "history.json"))))
	require.Len(t, r.Runs, 6)
	assert.Equal(t, 6, r.Summary.CompleteRuns)
	assert.Equal(t, testNow.Add(30*time.Hour+time.Minute), r.Period.To, "the period ends at the newest run's start")

	var timeline []string
	for _, e := range r.Timeline {
		for _, x := range e.NewFailures {
			timeline = append(timeline, fmt.Sprintf("%d new %s %s", e.RunID, x.Environment, x.RuleID))
		}
		for _, x := range e.Resolved {
			timeline = append(timeline, fmt.Sprintf("%d resolved %s %s (compared with run %d)", e.RunID, x.Environment, x.RuleID, x.ComparedWithRun))
		}
		for _, c := range e.Inventory {
			timeline = append(timeline, fmt.Sprintf("%d %s %s %s%s", e.RunID, c.Kind, c.Environment, c.Before, c.After))
		}
	}
	assert.Equal(t, []string{
		"2 new Contoso Production W365.ROLES.1",
		"2 role_removed Contoso Production Work 365 Service",
		"4 resolved Contoso Finance W365.ROLES.3 (compared with run 2)",
		"4 role_removed Contoso Finance Basic User",
		"5 resolved Contoso Production W365.ROLES.1 (compared with run 0)",
		"5 role_added Contoso Production Work 365 Service",
	}, timeline, "the outage of run 3 resolves, adds and removes nothing")

	var resolved []string
	for _, x := range r.Resolutions {
		resolved = append(resolved, fmt.Sprintf("%s %s %s", x.Environment, x.RuleID, time.Duration(x.OpenSeconds)*time.Second))
	}
	assert.Equal(t, []string{"Contoso Finance W365.ROLES.3 18h0m0s", "Contoso Production W365.ROLES.1 18h0m0s"}, resolved)
	require.NotEmpty(t, r.Open)
	assert.Equal(t, testNow.Add(time.Minute), r.Open[0].FirstSeen, "the demo's standing failures are open since the first run")

	page := mustRead(t, filepath.Join(out, "history.html"))
	assert.Equal(t, 6, strings.Count(page, `<tr data-run="`))
	assert.Equal(t, len(r.Open), strings.Count(page, `<tr data-open="`))
	assert.Equal(t, len(r.Compliance.Rules), strings.Count(page, `<tr data-rule="`))
	md := mustRead(t, filepath.Join(out, "history.md"))
	assert.Contains(t, md, "# Work 365 compliance history: contoso, fabrikam\n")
	assert.Contains(t, md, "- ✅ Resolved: **Contoso Finance** (contoso) `W365.ROLES.3`")

	// Filters, and one format to standard output.
	require.Equal(t, exitOK, h.run("history", "report", "--history", hist, "--tenant", "contoso", "--env", "Contoso Prod*", "--format", "json", "--output", "-"),
		h.stderr.String())
	assert.Empty(t, h.stderr.String())
	f := readHistoryReport(t, h.stdout.Bytes())
	assert.Equal(t, []string{"contoso"}, f.Filters.Tenants)
	require.Len(t, f.Compliance.Environments, 1)
	assert.Equal(t, "Contoso Production", f.Compliance.Environments[0].Environment)
	for _, e := range f.Timeline {
		for _, x := range append(append([]historyreport.Finding{}, e.NewFailures...), e.Resolved...) {
			assert.Equal(t, "Contoso Production", x.Environment)
		}
	}
	for _, x := range f.Open {
		assert.Equal(t, "Contoso Production", x.Environment)
	}

	// The config's history.path serves too, and the same history gives the same report.
	appendConfig(t, h, "history:\n  path: "+hist+"\n")
	require.Equal(t, exitOK, h.run("history", "report", "--config", h.cfgPath, "--format", "json", "--output", "-"), h.stderr.String())
	assert.JSONEq(t, mustRead(t, filepath.Join(out, "history.json")), h.stdout.String())
	assert.Equal(t, mustRead(t, filepath.Join(out, "history.json")), h.stdout.String())
}

func TestHistoryReportRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "history.db")
	require.Equal(t, exitOK, h.run("scan", "--config", h.cfgPath, "--env", "Contoso Production", "--format", "json", "--output", h.dir, "--history", hist, "--quiet"))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no history":          {[]string{"history", "report"}, "name the history"},
		"missing history":     {[]string{"history", "report", "--history", filepath.Join(h.dir, "none.db")}, "no history at"},
		"bad since":           {[]string{"history", "report", "--history", hist, "--since", "12h"}, `--since "12h"`},
		"unknown format":      {[]string{"history", "report", "--history", hist, "--format", "pdf"}, `unknown format "pdf"`},
		"two formats to -":    {[]string{"history", "report", "--history", hist, "--format", "html,json", "--output", "-"}, "--output - writes one format"},
		"malformed pattern":   {[]string{"history", "report", "--history", hist, "--env", "[Prod"}, `pattern "[Prod"`},
		"arguments not taken": {[]string{"history", "report", "--history", hist, "latest"}, "unknown command"},
	} {
		t.Run(name, func(t *testing.T) {
			code := h.run(tc.args...)
			want := exitUsage
			if name == "missing history" {
				want = exitError
			}
			assert.Equal(t, want, code, h.stderr.String())
			assert.Contains(t, h.stderr.String(), tc.want)
		})
	}
	// One run is enough for a report.
	require.Equal(t, exitOK, h.run("history", "report", "--history", hist, "--format", "markdown", "--output", "-"), h.stderr.String())
	assert.Contains(t, h.stdout.String(), "1 run · ")
}
