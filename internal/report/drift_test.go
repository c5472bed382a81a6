package report

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withDrift is the fixture with a "changed since last scan" section of every kind, hostile names included.
func withDrift() *Report {
	r := fixture()
	at := r.CollectedAt
	oldest := at.Add(-96 * time.Hour)
	r.Drift = &Drift{
		Baseline: Baseline{RunID: 7, CollectedAt: at.Add(-6 * time.Hour)},
		Summary:  DriftSummary{NewFailures: 1, Resolved: 1, Persisting: 1, InventoryChanges: 2, OldestFirstSeen: &oldest},
		NewFailures: []DriftResult{{Tenant: "contoso", EnvironmentID: "11111111-1111-1111-1111-111111111111", Environment: hostile,
			RuleID: "W365.ROLES.3", Title: "Least privilege", Severity: "medium", Status: "fail", Message: "Holds " + hostile, FirstSeen: at, FirstSeenRun: 8}},
		Resolved: []DriftResult{{Tenant: "contoso", EnvironmentID: "22222222-2222-2222-2222-222222222222", Environment: "Sandbox", RuleID: "W365.APPUSER.1",
			Title: "An application user exists", Severity: "critical", Status: "pass", Message: "was missing", FirstSeen: at.Add(-30 * time.Hour), FirstSeenRun: 3,
			Baseline: &Baseline{RunID: 5, CollectedAt: at.Add(-18 * time.Hour)}}},
		Persisting: []DriftResult{{Tenant: "contoso", EnvironmentID: "11111111-1111-1111-1111-111111111111", Environment: hostile, RuleID: "W365.APPUSER.1",
			Title: "An application user exists", Severity: "critical", Status: "fail", FirstSeen: oldest, FirstSeenRun: 1}},
		Inventory: []InventoryChange{
			{Kind: RoleRemoved, Tenant: "contoso", EnvironmentID: "11111111-1111-1111-1111-111111111111", Environment: hostile, Before: "Work 365 Portal Service"},
			{Kind: EnvironmentAdded, Tenant: "contoso", EnvironmentID: "55555555-5555-5555-5555-555555555555", Environment: "New", After: "New",
				Baseline: &Baseline{RunID: 5, CollectedAt: at.Add(-18 * time.Hour)}},
		},
	}
	return r
}

func TestTheDriftSectionIsInTheJSONHTMLAndMarkdownReports(t *testing.T) {
	t.Parallel()
	r := withDrift()
	js := render(t, "json", r, Options{})
	require.NoError(t, ValidateJSON([]byte(js)))
	var back Report
	require.NoError(t, json.Unmarshal([]byte(js), &back))
	assert.Equal(t, r.Drift, back.Drift)

	md := render(t, "markdown", r, Options{})
	assert.Contains(t, md, "## Changed since the last scan\n\n1 new failure, 1 resolved, 1 persisting (oldest since 22 Nov 2026), 2 inventory changes since run 7 (26 November 2026, 06:00 UTC); "+
		"2 entries compared with run 5 (25 November 2026, 18:00 UTC), the last scan that could read them.")
	assert.Contains(t, md, "| &lt;script&gt;alert(1)&lt;/script&gt; | `W365.ROLES.3` | medium | Holds &lt;script&gt;alert(1)&lt;/script&gt; |")
	assert.Contains(t, md, "| Sandbox | `W365.APPUSER.1` | critical | ✅ Pass | 30 hours |")
	assert.Contains(t, md, `- **&lt;script&gt;alert(1)&lt;/script&gt;** (contoso): role "Work 365 Portal Service" removed from the application user`)
	assert.Contains(t, md, "<details><summary>1 persisting failure</summary>")
	assert.Contains(t, md, "| 2026-11-22 12:00 UTC | 4 days |")

	html := render(t, "html", r, Options{})
	assert.Contains(t, html, `<h2 id="drift-title">Changed since the last scan</h2>`)
	assert.Contains(t, html, `<tr data-drift="new"><th scope="row">&lt;script&gt;alert(1)&lt;/script&gt;</th>`)
	assert.Contains(t, html, `<tr data-drift="role_removed">`)
	assert.Contains(t, html, "role &#34;Work 365 Portal Service&#34; removed from the application user")
	assert.Contains(t, html, "<summary>1 persisting failure</summary>")
	assert.NotContains(t, html, "<script>alert(1)")

	// Without a drift, no section.
	r.Drift = nil
	assert.NotContains(t, render(t, "markdown", r, Options{}), "Changed since")
	assert.NotContains(t, render(t, "html", r, Options{}), "drift-title")
	assert.NotContains(t, render(t, "json", r, Options{}), `"drift"`)
}

func TestTheSchemaAcceptsOnlyTheDocumentedDriftFields(t *testing.T) {
	t.Parallel()
	js := render(t, "json", withDrift(), Options{})
	for name, mutate := range map[string]func(d map[string]any){
		"unknown kind":    func(d map[string]any) { d["inventory"].([]any)[0].(map[string]any)["kind"] = "role_renamed" },
		"extra field":     func(d map[string]any) { d["note"] = "x" },
		"no first seen":   func(d map[string]any) { delete(d["new_failures"].([]any)[0].(map[string]any), "first_seen") },
		"missing summary": func(d map[string]any) { delete(d, "summary") },
		"baseline without its time": func(d map[string]any) {
			delete(d["resolved"].([]any)[0].(map[string]any)["baseline"].(map[string]any), "collected_at")
		},
		"inventory baseline with an extra field": func(d map[string]any) {
			d["inventory"].([]any)[1].(map[string]any)["baseline"].(map[string]any)["note"] = "x"
		},
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(js), &m))
		mutate(m["drift"].(map[string]any))
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		assert.Error(t, ValidateJSON(raw), name)
	}
}

func TestSARIFResultsAreLocatedInTheConfigFile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/sarif-schema-2.1.0.json")
	require.NoError(t, err)
	sch, err := CompileSchema("sarif-schema-2.1.0.json", raw)
	require.NoError(t, err)
	out := render(t, "sarif", fixture(), Options{Source: &SourceFile{URI: "ops/audit.yaml", Lines: map[string]int{"contoso": 4}}})
	var doc any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.NoError(t, sch.Validate(doc))
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation map[string]string `json:"artifactLocation"`
						Region           map[string]int    `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &log))
	require.NotEmpty(t, log.Runs[0].Results)
	for _, r := range log.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		assert.Equal(t, map[string]string{"uri": "ops/audit.yaml", "uriBaseId": "%SRCROOT%"}, loc.ArtifactLocation)
		assert.Equal(t, map[string]int{"startLine": 4}, loc.Region)
	}
	// Without a config file there is nothing honest to point at.
	assert.NotContains(t, render(t, "sarif", fixture(), Options{}), "physicalLocation")
	// A tenant without an entry of its own (the demo's, from fixtures) is located in the file as a whole.
	out = render(t, "sarif", fixture(), Options{Source: &SourceFile{URI: "audit.yaml"}})
	assert.Contains(t, out, `"artifactLocation": {`)
	assert.False(t, strings.Contains(out, `"region"`))
}

// The drift line says which entries were compared with an earlier scan than its baseline, and with which.
func TestTheDriftLineNamesEarlierBaselines(t *testing.T) {
	t.Parallel()
	d := withDrift().Drift
	at := d.Baseline.CollectedAt
	assert.True(t, strings.HasSuffix(d.Line(), "; 2 entries compared with run 5 (25 November 2026, 18:00 UTC), the last scan that could read them"), d.Line())
	d.Persisting[0].Baseline = &Baseline{RunID: 2, CollectedAt: at.Add(-72 * time.Hour)}
	assert.Equal(t, "3 entries compared with the last earlier scan that could read each, as far back as run 2 (23 November 2026, 06:00 UTC)", d.Earlier())
	d.Resolved[0].Baseline, d.Inventory[1].Baseline = nil, nil
	assert.Equal(t, "1 entry compared with run 2 (23 November 2026, 06:00 UTC), the last scan that could read it", d.Earlier())
	d.Persisting[0].Baseline = nil
	assert.Empty(t, d.Earlier())
	assert.True(t, strings.HasSuffix(d.Line(), " since run 7 (26 November 2026, 06:00 UTC)"))
}
