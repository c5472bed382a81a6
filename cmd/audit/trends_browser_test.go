package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

// scanFiveDays keeps five daily scans of the demo tenants in a history, with fixes between them: the third
// scan follows a fix of Contoso Legacy, the fourth one of everything automatic. It returns the harness, the
// history and the report directory of the last scan.
func scanFiveDays(t *testing.T) (*harness, string, string) {
	t.Helper()
	h := newHarness(t, emulator.Options{})
	hist, out := filepath.Join(h.dir, "history.db"), filepath.Join(h.dir, "out")
	fix := func(extra ...string) {
		t.Helper()
		code := h.run(append([]string{"fix", "--config", h.cfgPath, "--apply", "--yes", "--allow-production", "--journal", filepath.Join(h.dir, "journal.jsonl"),
			"--output", filepath.Join(h.dir, "fix"), "--quiet"}, extra...)...)
		require.Contains(t, []int{exitOK, exitFailing, exitUnaudited}, code, h.stderr.String())
	}
	for day := range 5 {
		at := testNow.Add(time.Duration(day) * 24 * time.Hour)
		h.g.now = func() time.Time { return at }
		switch day {
		case 2:
			fix("--env", "Contoso Legacy")
		case 3:
			fix()
		}
		code := h.run("scan", "--config", h.cfgPath, "--format", "json,html", "--output", out, "--history", hist, "--quiet")
		require.Contains(t, []int{exitOK, exitFailing, exitUnaudited}, code, h.stderr.String())
	}
	return h, hist, out
}

// The trends of a history of five scans, in headless Chromium: the chart has a line and a marker per run for
// each severity, and its table, the rules' and the environments' rows and their sparklines say the JSON
// report's numbers; an environment's row links to its section; the page reports no error.
func TestTrendsInABrowser(t *testing.T) {
	t.Parallel()
	bin := needChromium(t)
	_, _, dir := scanFiveDays(t)
	rep := readReport(t, dir)
	tr := rep.Trends
	require.NotNil(t, tr)
	require.Len(t, tr.Runs, 5)
	first, last := tr.Runs[0].Failing, tr.Runs[4].Failing
	require.Greater(t, first["critical"]+first["high"]+first["medium"], last["critical"]+last["high"]+last["medium"], "the fixes show")

	page := openTab(t, bin)
	call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1200, Height: 1000, DeviceScaleFactor: 1})
	fileURL := "file://" + filepath.Join(dir, "report.html")
	page.do(t, chromedp.Navigate(fileURL))

	var dom struct {
		Series  map[string]int // severity → markers drawn
		Runs    [][]string     // run ID, then failing by severity
		Rules   [][]string     // rule ID, then the sparkline's title
		Envs    [][]string     // environment ID, failing since, sparkline title
		Sparks  int
		Visible bool
	}
	page.eval(t, `(() => {
		const q = (s, el) => [...(el || document).querySelectorAll(s)];
		const series = {};
		q("#trends .chart .series").forEach(g => {
			series[g.dataset.severity] = (g.querySelector(".marker").getAttribute("d").match(/M/g) || []).length;
		});
		return {
			Series: series,
			Runs: q("#trend-runs tbody tr").map(tr => [tr.dataset.run, ...q("td.n", tr).slice(0, 4).map(td => td.textContent)]),
			Rules: q("#trend-rules tbody tr").map(tr => [tr.dataset.rule, tr.querySelector("svg title").textContent]),
			Envs: q("#trend-envs tbody tr").map(tr => [tr.dataset.envId, (tr.querySelector("time") || {}).dateTime || "",
				tr.querySelector("svg title").textContent]),
			Sparks: q("#trends svg.spark").length,
			Visible: document.querySelector("#trends .chart").getBoundingClientRect().width > 600,
		};
	})()`, &dom)

	series := func(name string, s []*int, missing string) string {
		var parts []string
		for _, v := range s {
			if v == nil {
				parts = append(parts, missing)
			} else {
				parts = append(parts, strconv.Itoa(*v))
			}
		}
		return name + ", failing results per run, oldest first: " + strings.Join(parts, ", ")
	}
	assert.Equal(t, map[string]int{"critical": 5, "high": 5, "medium": 5, "low": 5}, dom.Series)
	var runs [][]string
	for _, run := range tr.Runs {
		row := []string{strconv.FormatInt(run.RunID, 10)}
		for _, sev := range []string{"critical", "high", "medium", "low"} {
			row = append(row, strconv.Itoa(run.Failing[sev]))
		}
		runs = append(runs, row)
	}
	assert.Equal(t, runs, dom.Runs)
	var rules [][]string
	for _, rt := range tr.Rules {
		rules = append(rules, []string{rt.RuleID, series(rt.RuleID, rt.Failing, "not evaluated")})
	}
	assert.Equal(t, rules, dom.Rules)
	var envs [][]string
	for _, et := range tr.Environments {
		if !failedIn(et) {
			continue
		}
		since := ""
		if et.FailingSince != nil {
			since = et.FailingSince.Format(time.RFC3339)
		}
		envs = append(envs, []string{et.EnvironmentID, since, series(et.Environment, et.Failing, "not read")})
	}
	require.NotEmpty(t, envs)
	assert.Equal(t, envs, dom.Envs)
	assert.Equal(t, len(rules)+len(envs), dom.Sparks)
	assert.True(t, dom.Visible)

	// An environment's row opens its section.
	page.do(t, chromedp.Click(chromedp.CSS(`#trend-envs tbody tr:first-child a`)))
	var target struct {
		Hash   string
		InView bool
	}
	page.eval(t, `(() => { const el = document.getElementById(location.hash.slice(1)), r = el.getBoundingClientRect();
		return {Hash: location.hash, InView: r.top >= 0 && r.top < innerHeight}; })()`, &target)
	assert.True(t, strings.HasPrefix(target.Hash, "#env-"), target.Hash)
	assert.True(t, target.InView)

	assert.Empty(t, page.errors(), "the page reports no error")

	if *screenshots {
		page.reload(t, fileURL)
		page.eval(t, `document.getElementById("trends").scrollIntoView()`, nil)
		saveScreenshot(t, "trends.png", page.screenshot(t))
	}
}

// failedIn says whether an environment has a row in the HTML trends: it failed in one of the runs.
func failedIn(et report.EnvironmentTrend) bool {
	for _, v := range et.Failing {
		if v != nil && *v > 0 {
			return true
		}
	}
	return et.FailingSince != nil
}
