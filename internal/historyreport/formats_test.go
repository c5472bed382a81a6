package historyreport

import (
	"encoding/json"
	"flag"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/report"
)

// update rewrites the golden files of the fixed history instead of comparing with them.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func render(t *testing.T, name string, r *Report) string {
	t.Helper()
	f, ok := lookup(name)
	require.True(t, ok, name)
	var b strings.Builder
	require.NoError(t, f.Write(&b, r))
	return b.String()
}

// The report of the fixed history (fixture_test.go: an outage, a failed run, two scopes, a hostile name)
// in every format is compared with testdata/golden/history.<ext>: a change shows as a diff to review, and
// is accepted with go test ./internal/historyreport -run TestEveryFormatOfTheFixedHistoryMatchesItsGoldenFile -update.
func TestEveryFormatOfTheFixedHistoryMatchesItsGoldenFile(t *testing.T) {
	t.Parallel()
	r := fixture(Options{ToolVersion: "test"})
	for _, f := range formats {
		t.Run(f.Name, func(t *testing.T) {
			got := render(t, f.Name, r)
			golden := filepath.Join("testdata", "golden", "history."+f.Ext)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "refresh with go test ./internal/historyreport -run TestEveryFormatOfTheFixedHistoryMatchesItsGoldenFile -update")
			if got != string(want) {
				t.Errorf("%s differs from %s (review the change and refresh it with -update):\n%s", f.Name, golden, firstLineDiff(string(want), got))
			}
		})
	}
}

func firstLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return "(no difference by line)"
}

func TestTheJSONOfTheFixedHistoryMatchesItsSchema(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"everything":        {ToolVersion: "test"},
		"filtered to none":  {Tenants: []string{"northwind"}},
		"one environment":   {Environments: []string{"Contoso P*"}, Window: mustWindow(t, "2w")},
		"the whole history": {Window: mustWindow(t, "all")},
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, ValidateJSON([]byte(render(t, "json", fixture(o)))))
		})
	}
	empty := NewBuilder(Options{}, t0).Report()
	require.NoError(t, ValidateJSON([]byte(render(t, "json", empty))), "a period without runs")
}

func mustWindow(t *testing.T, s string) Window {
	w, err := ParseWindow(s)
	require.NoError(t, err)
	return w
}

func TestTheSchemaRejectsWhatItDoesNotDescribe(t *testing.T) {
	t.Parallel()
	good := render(t, "json", fixture(Options{}))
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(good), &m))
		f(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return out
	}
	runs := func(m map[string]any) []any { return m["runs"].([]any) }
	for name, tc := range map[string]struct {
		doc  []byte
		want string
	}{
		"undocumented field":      {mutate(func(m map[string]any) { m["generated_at"] = "2026-11-01T00:00:00Z" }), "generated_at"},
		"missing timeline":        {mutate(func(m map[string]any) { delete(m, "timeline") }), "timeline"},
		"share above one":         {mutate(func(m map[string]any) { runs(m)[0].(map[string]any)["compliance"] = 1.5 }), "compliance"},
		"complete without counts": {mutate(func(m map[string]any) { delete(runs(m)[0].(map[string]any), "counts") }), "counts"},
		"failed with counts":      {mutate(func(m map[string]any) { runs(m)[2].(map[string]any)["counts"] = map[string]any{"pass": 1} }), "runs/2"},
		"unknown status count": {mutate(func(m map[string]any) {
			runs(m)[0].(map[string]any)["counts"] = map[string]any{"ok": 1}
		}), "ok"},
		"bad since": {mutate(func(m map[string]any) { m["period"].(map[string]any)["since"] = "12h" }), "since"},
		"not json":  {[]byte("{"), "read history report"},
	} {
		t.Run(name, func(t *testing.T) {
			err := ValidateJSON(tc.doc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTheSchemaInDocsIsTheEmbeddedOne(t *testing.T) {
	t.Parallel()
	docs, err := os.ReadFile("../../docs/history-report.schema.json")
	require.NoError(t, err)
	assert.Equal(t, string(Schema), string(docs), "docs/history-report.schema.json is a copy of internal/historyreport/schema/history-report.schema.json: copy it again")
}

// The HTML report runs no script and loads nothing: its policy admits its own style sheet by hash, and
// every element a browser check counts carries a data attribute that matches the JSON.
func TestTheHTMLIsSelfContainedAndItsElementsMatchTheJSON(t *testing.T) {
	t.Parallel()
	r := fixture(Options{ToolVersion: "test"})
	page := render(t, "html", r)
	has := func(s string) bool { return strings.Contains(page, s) }
	assert.False(t, has("<script"), "no script")
	assert.False(t, has("http://") || has("https://") || has("src="), "nothing to load")
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	require.Len(t, csp, 2)
	assert.Equal(t, `default-src 'none'; style-src '`+report.HashSource(htmlCSS)+`'; img-src data:; base-uri 'none'; form-action 'none'`,
		html.UnescapeString(csp[1]), "the policy admits the style sheet by its hash, and nothing else")
	assert.Equal(t, 1, strings.Count(page, "<style>"))
	assert.True(t, has("<style>"+htmlCSS+"</style>"), "the style sheet is the one hashed")
	assert.False(t, has(` style="`), "an inline style attribute would need the policy's 'unsafe-hashes'")

	count := func(pattern string) int { return len(regexp.MustCompile(pattern).FindAllString(page, -1)) }
	complete := 0
	for _, run := range r.Runs {
		if run.Complete() {
			complete++
		}
	}
	assert.Equal(t, len(r.Runs), count(`<tr data-run="\d+"`))
	svg := func(kind string, i int) string {
		parts := strings.Split(page, `data-chart="`+kind+`"`)
		require.Greater(t, len(parts), i+1, kind)
		return parts[i+1][:strings.Index(parts[i+1], "</svg>")]
	}
	assert.Equal(t, complete, strings.Count(svg("overall", 0), "data-run="), "a mark per complete run")
	for i, s := range r.Compliance.Tenants {
		assert.Equal(t, len(s.Points), strings.Count(svg("tenant", i), "data-run="), s.Tenant)
	}
	assert.Equal(t, len(r.Compliance.Tenants), count(`<figure class="figure small" data-tenant=`))
	assert.Equal(t, len(r.Compliance.Environments), count(`<tr data-env="`))
	assert.Equal(t, len(r.Compliance.Rules), count(`<tr data-rule="`))
	assert.Equal(t, len(r.Timeline), count(`<section class="event" data-event="`))
	changes := 0
	for _, e := range r.Timeline {
		changes += len(e.NewFailures) + len(e.Resolved) + len(e.Inventory)
	}
	assert.Equal(t, changes, count(`<tr data-change="`))
	assert.Equal(t, len(r.Resolutions), count(`<tr data-resolution="`))
	assert.Equal(t, len(r.TimeToResolve), count(`<tr data-rule-time="`))
	assert.Equal(t, len(r.Open), count(`<tr data-open="`))

	// Accessible: every chart is an image with a title and a description; tables have header cells with scope.
	assert.Equal(t, count(`<svg class="chart"`), count(`<svg class="chart"[^>]*role="img" aria-labelledby="[^"]+-t [^"]+-d"`))
	assert.Equal(t, count(`<svg class="spark"`), count(`<svg class="spark"[^>]*role="img" aria-label="[^"]+"`))
	assert.Zero(t, count(`<th>`), "every header cell has a scope")
	// The hostile name is text, never markup.
	assert.False(t, has("<Lab>"))
	assert.True(t, has("R&amp;D &lt;Lab&gt;"))
}

func TestTheMarkdownEscapesTenantText(t *testing.T) {
	t.Parallel()
	md := render(t, "markdown", fixture(Options{}))
	assert.NotContains(t, md, labName)
	assert.Contains(t, md, `R&amp;D &lt;Lab&gt; \| \*x\* \`+"`y\\`")
	// Every row of a table has its header's number of cells: no name breaks a table.
	cells := func(line string) int { return strings.Count(line, "|") - strings.Count(line, `\|`) }
	header := 0
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			header = 0
		case header == 0:
			header = cells(line)
		default:
			assert.Equal(t, header, cells(line), line)
		}
	}
}
