package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/historyreport"
)

// The history report of five daily scans, in headless Chromium: its runs, tenants, environments, rules, drift
// events with their changes, resolutions and open findings are those of history.json, each drawing says its
// numbers in its accessible name, and the page reports no error.
func TestHistoryReportInABrowser(t *testing.T) {
	t.Parallel()
	bin := needChromium(t)
	h, hist, _ := scanFiveDays(t)
	out := filepath.Join(h.dir, "history-report")
	code := h.run("history", "report", "--history", hist, "--since", "all", "--format", "html,json", "--output", out, "--quiet")
	require.Equal(t, exitOK, code, h.stderr.String())
	raw, err := os.ReadFile(filepath.Join(out, "history.json"))
	require.NoError(t, err)
	var rep historyreport.Report
	require.NoError(t, json.Unmarshal(raw, &rep))
	require.Len(t, rep.Runs, 5)
	require.NotEmpty(t, rep.Timeline, "the fixes between the scans show as drift")
	require.NotEmpty(t, rep.Resolutions, "the fixes resolved findings")

	page := openTab(t, bin)
	call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1200, Height: 1000, DeviceScaleFactor: 1})
	fileURL := "file://" + filepath.Join(out, "history.html")
	page.do(t, chromedp.Navigate(fileURL))

	var dom struct {
		Runs        []string
		Tenants     []string
		Envs        int
		Rules       []string
		Events      []string
		Changes     []int
		Resolutions []string
		Open        []string
		OpenTotal   string
		Untitled    int // drawings whose accessible name does not give their numbers
		Drawings    int
	}
	page.eval(t, `(() => {
		const q = (s, el) => [...(el || document).querySelectorAll(s)];
		const svgs = q("main svg");
		return {
			Runs: q('[data-table="runs"] tbody tr').map(tr => tr.dataset.run),
			Tenants: q("figure[data-tenant]").map(f => f.dataset.tenant),
			Envs: q('[data-table="environments"] tbody tr').length,
			Rules: q('[data-table="rules"] tbody tr').map(tr => tr.dataset.rule),
			Events: q("section.event").map(s => s.dataset.event),
			Changes: q("section.event").map(s => q("tr[data-change]", s).length),
			Resolutions: q('[data-table="resolutions"] tbody tr').map(tr => tr.dataset.resolution),
			Open: q('[data-table="open"] tbody tr').map(tr => tr.dataset.open),
			OpenTotal: (document.querySelector('[data-table="open"]') || {dataset: {}}).dataset.total || "",
			Untitled: svgs.filter(s => !/\d/.test(s.getAttribute("aria-label") || q(":scope > title, :scope > desc", s).map(e => e.textContent).join(" "))).length,
			Drawings: svgs.length,
		};
	})()`, &dom)

	var runs []string
	for _, r := range rep.Runs {
		runs = append(runs, strconv.FormatInt(r.ID, 10))
	}
	sort.Strings(runs)
	sort.Strings(dom.Runs)
	assert.Equal(t, runs, dom.Runs)
	var tenants []string
	for _, ts := range rep.Compliance.Tenants {
		tenants = append(tenants, ts.Tenant)
	}
	assert.ElementsMatch(t, tenants, dom.Tenants)
	assert.Equal(t, len(rep.Compliance.Environments), dom.Envs)
	var rules []string
	for _, rs := range rep.Compliance.Rules {
		rules = append(rules, rs.RuleID)
	}
	assert.ElementsMatch(t, rules, dom.Rules)
	var events []string
	var changes []int
	for _, ev := range rep.Timeline {
		events = append(events, strconv.FormatInt(ev.RunID, 10))
		changes = append(changes, len(ev.NewFailures)+len(ev.Resolved)+len(ev.Inventory))
	}
	assert.Equal(t, events, dom.Events)
	assert.Equal(t, changes, dom.Changes)
	var resolutions []string
	for _, r := range rep.Resolutions {
		resolutions = append(resolutions, strconv.FormatInt(r.ResolvedRun, 10))
	}
	assert.Equal(t, resolutions, dom.Resolutions)
	assert.Equal(t, strconv.Itoa(len(rep.Open)), dom.OpenTotal)
	require.NotEmpty(t, dom.Open)
	assert.LessOrEqual(t, len(dom.Open), len(rep.Open))
	assert.Equal(t, len(rep.Open), rep.Summary.Open)
	assert.Greater(t, dom.Drawings, len(rules), "a chart, a sparkline per environment and per rule")
	assert.Zero(t, dom.Untitled, "every drawing says its numbers in its accessible name")
	assert.Empty(t, page.errors(), "the page reports no error")

	if *screenshots {
		saveScreenshot(t, "history-report.png", page.screenshot(t))
	}
}
