package report

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heatRows reads the heatmap of an HTML report: the tenants of its row groups, and per row its environment
// (the row header's text and link) and the classes and texts of its cells.
func heatRows(t *testing.T, out string) (tenants []string, rows [][]string) {
	t.Helper()
	start, end := strings.Index(out, `<table class="grid" id="grid">`), strings.Index(out, "</table>")
	require.True(t, start >= 0 && end > start, "the report has a heatmap")
	grid := out[start:end]
	for _, m := range regexp.MustCompile(`<th scope="rowgroup" colspan="\d+">([^<]*)</th>`).FindAllStringSubmatch(grid, -1) {
		tenants = append(tenants, m[1])
	}
	cell := regexp.MustCompile(`<td class="h-([a-z_]+)">([^<]*)</td>`)
	for _, m := range regexp.MustCompile(`<tr><th scope="row"><a href="#([^"]+)">([^<]*)</a></th>(.*)</tr>`).FindAllStringSubmatch(grid, -1) {
		row := []string{m[1], m[2]}
		for _, c := range cell.FindAllStringSubmatch(m[3], -1) {
			row = append(row, c[1]+":"+c[2])
		}
		rows = append(rows, row)
	}
	return tenants, rows
}

// The heatmap has a row per environment, grouped by tenant, and a column per rule of the catalog, in the
// catalog's order; each cell is one element whose class and text say the pair's status, and a pair without
// a result says so. Row headers link to the environment, and tenant names are escaped.
func TestTheHeatmapHasACellPerEnvironmentAndRule(t *testing.T) {
	t.Parallel()
	r := fixture()
	r.Results = r.Results[1:] // the hostile environment's W365.APPUSER.1 has no result
	out := render(t, "html", r, Options{})

	assert.Contains(t, out, `<thead><tr><th scope="col" class="corner">Environment</th><th scope="col" data-rule="W365.APPUSER.1" title="An application user exists (critical)"><span>W365.APPUSER.1</span></th><th scope="col" data-rule="W365.BIND.1"`)
	tenants, rows := heatRows(t, out)
	assert.Equal(t, []string{"contoso"}, tenants, "a tenant without environments has no group")
	assert.Equal(t, [][]string{
		{"env-1", "&lt;script&gt;alert(1)&lt;/script&gt;", "none:No result", "fail:Fail", "fail:Fail"},
		{"env-2", "Sandbox | *bold* [link](http://x)", "pass:Pass", "not_applicable:Not applicable", "waived:Waived"},
		{"env-3", "=SUM(1,2) Broken\x1b[2J", "error:Error", "error:Error", "error:Error"},
		{"env-4", "Empty", "not_applicable:Not applicable", "not_applicable:Not applicable", "not_applicable:Not applicable"},
	}, rows)
	// The heatmap comes first after the verdict, and its cells' targets exist.
	assert.Less(t, strings.Index(out, `id="verdict-title"`), strings.Index(out, `id="heatmap"`))
	assert.Less(t, strings.Index(out, `id="heatmap"`), strings.Index(out, `id="summary"`))
	assert.Contains(t, out, `id="env-2-W365.BIND.1"`)

	// One tenant: no groups.
	r.Tenants = r.Tenants[:1]
	tenants, rows = heatRows(t, render(t, "html", r, Options{}))
	assert.Empty(t, tenants)
	assert.Len(t, rows, 4)
}

// The report of a large fleet stays small enough to open and send: a thousand environments and fifteen rules
// (fleet: one in four failing, with evidence and remedies) make an HTML report under 5 MB, whose heatmap has
// every cell.
func TestTheHTMLReportOfAThousandEnvironmentsStaysUnderFiveMegabytes(t *testing.T) {
	t.Parallel()
	r := fleet(1000)
	var buf bytes.Buffer
	require.NoError(t, htmlReporter{}.Write(&buf, r))
	t.Logf("HTML report of %d environments × %d rules: %d bytes", len(r.Environments), len(r.Rules), buf.Len())
	assert.Less(t, buf.Len(), 5_000_000, "5 MB")

	out := buf.String()
	assert.Equal(t, len(r.Results), strings.Count(out, `<td class="h-`))
	assert.Equal(t, len(r.Results), strings.Count(out, `<li class="result" `))
	tenants, rows := heatRows(t, out)
	assert.Equal(t, []string{"tenant1", "tenant2", "tenant3", "tenant4"}, tenants)
	require.Len(t, rows, len(r.Environments))
	for i, e := range r.Environments {
		want := []string{"env-" + strconv.Itoa(i+1), e.Name}
		for _, res := range r.Results[i*len(r.Rules) : (i+1)*len(r.Rules)] {
			want = append(want, string(res.Status)+":"+StatusLabel(res.Status))
		}
		require.Equal(t, want, rows[i])
	}
}

// BenchmarkHTMLReportOfAThousandEnvironments renders the HTML report of fleet(1000).
func BenchmarkHTMLReportOfAThousandEnvironments(b *testing.B) {
	r := fleet(1000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := (htmlReporter{}).Write(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
}
