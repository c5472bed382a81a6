package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The heatmap of the demo's HTML report, in headless Chromium: it is on the first screen; its rows, columns
// and cells are the JSON report's environments, rules and statuses; its headers stay in view when it
// scrolls; a click or Enter on a cell opens that result (its <details> open, in view, focused, filters
// cleared if they hid it); the arrow keys move one tab stop through the cells; and the page reports no error.
func TestHeatmapInABrowser(t *testing.T) {
	t.Parallel()
	bin := needChromium(t)
	dir, _ := runDemoReports(t)
	rep := readReport(t, dir)
	page := openTab(t, bin)
	call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1200, Height: 900, DeviceScaleFactor: 1})
	fileURL := "file://" + filepath.Join(dir, "report.html")
	page.do(t, chromedp.Navigate(fileURL))

	// The DOM's grid is the JSON's: rows by tenant, columns by rule, one status per cell.
	var grid struct {
		Rules     []string
		Tenants   []string
		Rows      [][]string // environment name, then each cell's status
		Cells     int
		FirstRow  float64 // top of the first row, in the viewport
		Viewport  float64
		TabStops  int
		Sticky    []string
		Described string
	}
	page.eval(t, `(() => {
		const g = document.getElementById("grid");
		const rows = [...g.querySelectorAll("tbody tr:not(.tenant)")];
		const first = g.querySelector("tbody td");
		first.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
		return {
			Rules: [...g.tHead.rows[0].cells].slice(1).map(th => th.dataset.rule),
			Tenants: [...g.querySelectorAll("tr.tenant th")].map(th => th.textContent),
			Rows: rows.map(tr => [tr.cells[0].textContent, ...[...tr.querySelectorAll("td")].map(td => td.className.replace(/^h-/, ""))]),
			Cells: g.querySelectorAll("td").length,
			FirstRow: rows[0].getBoundingClientRect().top,
			Viewport: innerHeight,
			TabStops: g.querySelectorAll("[tabindex='0']").length,
			Sticky: [getComputedStyle(g.tHead.rows[0].cells[1]).position, getComputedStyle(rows[0].cells[0]).position],
			Described: first.title,
		};
	})()`, &grid)
	var rules []string
	for _, r := range rep.Rules {
		rules = append(rules, r.ID)
	}
	assert.Equal(t, rules, grid.Rules)
	assert.Equal(t, []string{"contoso", "fabrikam"}, grid.Tenants)
	assert.Equal(t, len(rep.Environments)*len(rep.Rules), grid.Cells)
	status := map[[2]string]string{}
	for _, res := range rep.Results {
		status[[2]string{res.EnvironmentID, res.RuleID}] = string(res.Status)
	}
	var want [][]string
	for _, e := range rep.Environments {
		row := []string{e.Name}
		for _, r := range rep.Rules {
			row = append(row, status[[2]string{e.ID, r.ID}])
		}
		want = append(want, row)
	}
	assert.Equal(t, want, grid.Rows)
	assert.Less(t, grid.FirstRow, grid.Viewport, "the heatmap is on the first screen")
	assert.Equal(t, 1, grid.TabStops, "the grid is one tab stop")
	assert.Equal(t, []string{"sticky", "sticky"}, grid.Sticky)
	assert.Equal(t, "Contoso (default) · W365.APPUSER.1: Not applicable", grid.Described)

	// Sticky headers: in a small window the grid scrolls, and its column and row headers stay in view.
	call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 480, Height: 500, DeviceScaleFactor: 1})
	var sticky struct{ Scrolled, HeadAtTop, RowHeadAtLeft bool }
	page.eval(t, `(() => {
		const box = document.querySelector(".grid-scroll"), g = document.getElementById("grid");
		box.scrollTop = 150; box.scrollLeft = 120;
		const b = box.getBoundingClientRect(), head = g.tHead.rows[0].cells[3].getBoundingClientRect();
		const rowHead = g.querySelector("tbody tr:nth-child(9) th").getBoundingClientRect();
		return {
			Scrolled: box.scrollTop > 0 && box.scrollLeft > 0,
			HeadAtTop: Math.abs(head.top - b.top) <= 2,
			RowHeadAtLeft: Math.abs(rowHead.left - b.left) <= 2,
		};
	})()`, &sticky)
	assert.Equal(t, struct{ Scrolled, HeadAtTop, RowHeadAtLeft bool }{true, true, true}, sticky)
	call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1200, Height: 900, DeviceScaleFactor: 1})
	page.eval(t, `scrollTo(0, 0)`, nil)

	// A click on a cell opens its result.
	type opened struct {
		Hash         string
		Open         bool // the result's <details> and every one around it
		InView       bool
		Focused      bool
		Shown        string
		StatusOfLine string
	}
	probe := func(env, rule string) string {
		t.Helper()
		page.eval(t, `(() => {
			document.querySelectorAll("#probe").forEach(c => c.removeAttribute("id"));
			const g = document.getElementById("grid");
			const col = [...g.tHead.rows[0].cells].findIndex(th => th.dataset.rule === `+jsString(rule)+`);
			const row = [...g.querySelectorAll("tbody tr:not(.tenant)")].find(tr => tr.cells[0].textContent === `+jsString(env)+`);
			row.cells[col].id = "probe";
		})()`, nil)
		return "#probe"
	}
	look := func() opened {
		t.Helper()
		var o opened
		page.eval(t, `(() => {
			const el = document.getElementById(location.hash.slice(1));
			let open = true;
			for (let p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS" && !p.open) { open = false; } }
			const own = el.querySelector("details");
			if (own && !own.open) { open = false; }
			const r = el.getBoundingClientRect();
			return {
				Hash: location.hash, Open: open, InView: r.top >= 0 && r.bottom <= innerHeight && r.height > 0,
				Focused: document.activeElement === el, Shown: document.getElementById("shown").textContent,
				StatusOfLine: el.dataset.status || el.closest(".brief").dataset.status,
			};
		})()`, &o)
		return o
	}
	all := "Showing 180 of 180 results"
	require.Len(t, rep.Results, 180)

	// A failing result, in an environment the reader had collapsed.
	page.eval(t, `document.querySelector("#env-4 > details").open = false`, nil)
	page.do(t, chromedp.Click(chromedp.CSS(probe("Contoso Legacy", "W365.BIND.1"))))
	assert.Equal(t, opened{Hash: "#env-4-W365.BIND.1", Open: true, InView: true, Focused: true, Shown: all, StatusOfLine: "fail"}, look())

	// A waived result, closed by default, while the filters hide waived results.
	page.eval(t, `scrollTo(0, 0)`, nil)
	page.eval(t, `document.querySelector("#filters input[name=status][value=waived]").click()`, nil)
	page.do(t, chromedp.Click(chromedp.CSS(probe("Contoso Sandbox", "W365.ROLES.3"))))
	assert.Equal(t, opened{Hash: "#env-8-W365.ROLES.3", Open: true, InView: true, Focused: true, Shown: all, StatusOfLine: "waived"}, look())

	// The keyboard: the grid's one tab stop is the cell last selected; the arrow keys move it (across tenants),
	// Home and End go to the row's ends, and Enter opens the cell's result.
	page.eval(t, `scrollTo(0, 0)`, nil)
	keys := []string{kb.ArrowDown, kb.ArrowDown, kb.ArrowDown, kb.Home, kb.End}
	for range 9 {
		keys = append(keys, kb.ArrowLeft)
	}
	steps := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS(`#grid [tabindex="0"]`))}
	for _, k := range keys {
		steps = append(steps, chromedp.KeyEvent(k))
	}
	page.do(t, steps...)
	var focus struct {
		Env, Rule string
		TabStops  int
	}
	page.eval(t, `(() => {
		const td = document.activeElement, g = document.getElementById("grid");
		return {Env: td.parentNode.cells[0].textContent, Rule: g.tHead.rows[0].cells[td.cellIndex].dataset.rule,
			TabStops: g.querySelectorAll("[tabindex='0']").length};
	})()`, &focus)
	assert.Equal(t, struct {
		Env, Rule string
		TabStops  int
	}{"Fabrikam Production", "W365.GOV.1", 1}, focus, "from Contoso Sandbox × W365.ROLES.3")
	page.do(t, chromedp.KeyEvent(kb.Enter))
	assert.Equal(t, opened{Hash: "#env-11-W365.GOV.1", Open: true, InView: true, Focused: true, Shown: all, StatusOfLine: "fail"}, look())

	// A passing result is listed by its rule ID: the cell opens that.
	page.eval(t, `scrollTo(0, 0)`, nil)
	page.do(t, chromedp.Click(chromedp.CSS(probe("Contoso Production", "W365.GOV.1"))))
	assert.Equal(t, opened{Hash: "#env-7-W365.GOV.1", Open: true, InView: true, Focused: true, Shown: all, StatusOfLine: "pass"}, look())

	assert.Empty(t, page.errors(), "the page reports no error")

	if *screenshots {
		page.eval(t, `(() => { history.replaceState(null, "", location.pathname); document.activeElement.blur(); scrollTo(0, 0); })()`, nil)
		page.reload(t, fileURL)
		call(t, page, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1200, Height: 1000, DeviceScaleFactor: 1})
		saveScreenshot(t, "heatmap.png", page.screenshot(t))
	}
}

// screenshots rewrites the README's screenshots of the HTML report in docs/images.
var screenshots = flag.Bool("screenshots", false, "rewrite the screenshots of the HTML report in docs/images")

// saveScreenshot writes a screenshot to docs/images.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "images", name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
