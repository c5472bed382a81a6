package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// screenshotOut also saves the browser test's screenshot there (the README's docs/images/report.png).
var screenshotOut = flag.String("screenshot", "", "also save the HTML report's screenshot to this file")

// The HTML report of the demo tenants, opened from disk in headless Chromium: its counts and environments are
// the JSON report's, its filters hide and show what they say, it prints without the filter bar and reads
// complete without script. Chromium missing is a skip on a developer's machine and a failure in CI.
func TestHTMLReportInABrowser(t *testing.T) {
	t.Parallel()
	bin := findChromium()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("Chromium is not installed (apt-get install chromium); CI runs this test")
	}
	dir, _ := runDemoReports(t)
	rep := readReport(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := startChromium(t, bin)
	require.NoError(t, err, "Chromium must start")
	page, err := b.page(ctx)
	require.NoError(t, err)
	defer page.Close()
	require.NoError(t, page.call(ctx, "Page.enable", nil, nil))
	fileURL := "file://" + filepath.Join(dir, "report.html")
	require.NoError(t, page.load(ctx, fileURL))

	// Counts and environments, read from the DOM.
	var dom struct {
		Title        string
		Environments int
		Results      int
		Threshold    int
		Unaudited    int
		ByStatus     map[string]int
		EnvByStatus  map[string]int
		Rows         []string
		Sections     []string
		ResultItems  int
		FiltersShown bool
		Shown        string
		Errors       []string
	}
	require.NoError(t, page.eval(ctx, `(() => {
		const num = sel => Number(document.querySelector(sel).textContent.trim());
		const byStatus = {}, envByStatus = {};
		document.querySelectorAll("[data-result-count]").forEach(td => byStatus[td.dataset.resultCount] = Number(td.textContent));
		document.querySelectorAll("[data-env-count]").forEach(td => envByStatus[td.dataset.envCount] = Number(td.textContent));
		return {
			Title: document.title,
			Environments: num("[data-summary=environments]"),
			Results: num("[data-summary=results]"),
			Threshold: num("[data-summary=threshold]"),
			Unaudited: num("[data-summary=unaudited]"),
			ByStatus: byStatus, EnvByStatus: envByStatus,
			Rows: [...document.querySelectorAll("#overview tbody th a")].map(a => a.textContent),
			Sections: [...document.querySelectorAll("section.env h3")].map(h => h.textContent),
			ResultItems: document.querySelectorAll("li.result").length,
			FiltersShown: !document.getElementById("filters").hidden && document.getElementById("filters").getClientRects().length > 0,
			Shown: document.getElementById("shown").textContent,
		};
	})()`, &dom))
	assert.Equal(t, "Work 365 audit · contoso, fabrikam · 2026-11-26", dom.Title)
	assert.Equal(t, len(rep.Environments), dom.Environments)
	assert.Equal(t, len(rep.Results), dom.Results)
	assert.Equal(t, len(rep.Results), dom.ResultItems)
	assert.Equal(t, rep.Summary.FailingAtOrAbove, dom.Threshold)
	assert.Equal(t, rep.Summary.Errors, dom.Unaudited)
	for _, s := range report.Statuses {
		assert.Equal(t, rep.Summary.Results[s], dom.ByStatus[string(s)], "results %s", s)
	}
	for s, n := range rep.Summary.Environments {
		assert.Equal(t, n, dom.EnvByStatus[string(s)], "environments %s", s)
	}
	var names []string
	for _, e := range rep.Environments {
		names = append(names, e.Name)
	}
	assert.Equal(t, names, dom.Rows)
	assert.Equal(t, names, dom.Sections)
	assert.True(t, dom.FiltersShown, "the script shows the filters")
	all := fmt.Sprintf("Showing %d of %d results", len(rep.Results), len(rep.Results))
	assert.Equal(t, all, dom.Shown)

	// What the filters leave visible: results, environment sections and the counter.
	type view struct {
		Results  []string // status/severity/env of each visible result
		Hidden   int
		Rendered bool // every visible result has a box; every hidden one has none
		Sections []string
		Rows     int
		Shown    string
	}
	look := func() view {
		t.Helper()
		var v view
		require.NoError(t, page.eval(ctx, `(() => {
			const all = [...document.querySelectorAll("li.result")];
			const vis = all.filter(r => !r.hidden);
			return {
				Results: vis.map(r => r.dataset.status + "/" + r.dataset.severity + "/" + r.closest("section.env").querySelector("h3").textContent),
				Hidden: all.length - vis.length,
				Rendered: vis.every(r => r.getClientRects().length > 0) && all.filter(r => r.hidden).every(r => r.getClientRects().length === 0),
				Sections: [...document.querySelectorAll("section.env")].filter(s => !s.hidden && s.getClientRects().length > 0).map(s => s.querySelector("h3").textContent),
				Rows: [...document.querySelectorAll("#overview tbody tr")].filter(r => !r.hidden).length,
				Shown: document.getElementById("shown").textContent,
			};
		})()`, &v))
		return v
	}
	click := func(selector string) {
		t.Helper()
		require.NoError(t, page.eval(ctx, `document.querySelector(`+jsString(selector)+`).click()`, nil))
	}
	expect := func(keep func(policy.Result) bool) (results []string, envs []string) {
		seen := map[string]bool{}
		for _, e := range rep.Environments {
			for _, res := range rep.ResultsOf(e.ID) {
				if keep(res) {
					results = append(results, string(res.Status)+"/"+res.Severity+"/"+e.Name)
					if !seen[e.Name] {
						seen[e.Name] = true
						envs = append(envs, e.Name)
					}
				}
			}
		}
		return results, envs
	}

	// Only failing results: untick every other status.
	for _, s := range []string{"error", "waived", "pass", "not_applicable"} {
		click(`#filters input[name=status][value=` + s + `]`)
	}
	v := look()
	wantResults, wantEnvs := expect(func(r policy.Result) bool { return r.Status == policy.StatusFail })
	assert.Equal(t, wantResults, v.Results)
	assert.Equal(t, wantEnvs, v.Sections, "environments without a failing result are hidden")
	assert.True(t, v.Rendered)
	assert.Equal(t, len(rep.Environments), v.Rows, "the overview lists every environment")
	assert.Equal(t, fmt.Sprintf("Showing %d of %d results", len(wantResults), len(rep.Results)), v.Shown)

	// And not critical ones.
	click(`#filters input[name=severity][value=critical]`)
	v = look()
	wantResults, wantEnvs = expect(func(r policy.Result) bool { return r.Status == policy.StatusFail && r.Severity != "critical" })
	assert.Equal(t, wantResults, v.Results)
	assert.Equal(t, wantEnvs, v.Sections)

	// One environment, every status and severity again.
	click(`#filters button[type=reset]`)
	require.NoError(t, page.eval(ctx, `(() => {
		const sel = document.querySelector("#filters select[name=environment]");
		sel.value = [...sel.options].find(o => o.textContent.startsWith("Contoso Legacy ")).value;
		sel.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, nil))
	v = look()
	wantResults, wantEnvs = expect(func(r policy.Result) bool { return r.EnvironmentName == "Contoso Legacy" })
	assert.Equal(t, wantResults, v.Results)
	assert.Equal(t, wantEnvs, v.Sections)
	assert.Equal(t, 1, v.Rows)
	assert.True(t, v.Rendered)

	// Show everything.
	click(`#filters button[type=reset]`)
	require.Eventually(t, func() bool { return look().Shown == all }, 5*time.Second, 20*time.Millisecond)
	v = look()
	assert.Zero(t, v.Hidden)
	assert.Len(t, v.Sections, len(rep.Environments))

	// The screenshot of the report as it opens: the header, the summary and the environments.
	require.NoError(t, page.call(ctx, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1200, "height": 1500, "deviceScaleFactor": 1, "mobile": false}, nil))
	var shot struct {
		Data string `json:"data"`
	}
	require.NoError(t, page.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot))
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(png), "\x89PNG"))
	shotPath := filepath.Join(t.TempDir(), "report.png")
	require.NoError(t, os.WriteFile(shotPath, png, 0o600))
	t.Logf("screenshot: %s (%d bytes)", shotPath, len(png))
	if *screenshotOut != "" {
		require.NoError(t, os.WriteFile(*screenshotOut, png, 0o644))
	}

	// Print: no filter bar, and every collapsed section opens.
	require.NoError(t, page.call(ctx, "Emulation.setEmulatedMedia", map[string]any{"media": "print"}, nil))
	var print struct {
		FilterDisplay string
		PreVisible    bool
	}
	require.NoError(t, page.eval(ctx, `(() => ({
		FilterDisplay: getComputedStyle(document.getElementById("filters")).display,
		PreVisible: [...document.querySelectorAll("details.evidence pre")].every(p => p.getClientRects().length > 0),
	}))()`, &print))
	assert.Equal(t, "none", print.FilterDisplay)
	assert.True(t, print.PreVisible, "collapsed evidence is printed")
	require.NoError(t, page.call(ctx, "Emulation.setEmulatedMedia", map[string]any{"media": ""}, nil))

	// Without script: no filter bar (it would do nothing), and every result is on the page.
	require.NoError(t, page.call(ctx, "Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil))
	require.NoError(t, page.load(ctx, "about:blank"))
	require.NoError(t, page.load(ctx, fileURL))
	var noscript struct {
		Filters  bool
		Rendered int
	}
	require.NoError(t, page.eval(ctx, `(() => ({
		Filters: document.getElementById("filters").getClientRects().length > 0,
		Rendered: [...document.querySelectorAll("li.result")].filter(r => r.getClientRects().length > 0).length,
	}))()`, &noscript))
	assert.False(t, noscript.Filters)
	assert.Equal(t, len(rep.Results), noscript.Rendered)
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
