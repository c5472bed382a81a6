package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

// Above the threshold, the HTML report of several tenants is a summary with a page per tenant; each page is
// the full report of its tenant, and the pages together hold every environment and result once.
func TestTheHTMLReportOfAFleetLinksAPagePerTenant(t *testing.T) {
	t.Parallel()
	r := largeReport(FleetThreshold+200, 6)
	require.True(t, IsFleet(r))
	dir := t.TempDir()
	f, err := Lookup("html")
	require.NoError(t, err)
	written, err := WriteFiles(dir, []Format{f}, r, Options{})
	require.NoError(t, err)
	require.Len(t, written, 1+len(r.Tenants), "the summary and one page per tenant")

	summary, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	links := regexp.MustCompile(`<a href="(tenants/[^"]+)">`).FindAllStringSubmatch(string(summary), -1)
	require.Len(t, links, len(r.Tenants), "every tenant is linked")
	assert.Less(t, len(summary), 200<<10, "the summary does not grow with the environments")
	assert.NotContains(t, string(summary), "<script", "the summary needs no script")
	assert.Contains(t, string(summary), `data-summary="environments">1200<`)
	// Each tenant's line counts its own failures at or above the threshold, and its worst status.
	rows := regexp.MustCompile(`<tr data-tenant="([^"]+)">.*?<span class="badge s-([a-z_]+)">.*<td class="n" data-failing>(\d+)</td></tr>`).
		FindAllStringSubmatch(string(summary), -1)
	require.Len(t, rows, len(r.Tenants))
	failing := 0
	for _, row := range rows {
		sub := r.ForTenant(row[1])
		assert.Equal(t, fmt.Sprint(sub.Summary.FailingAtOrAbove), row[3], row[1])
		want := policy.StatusNotApplicable
		for _, e := range sub.Environments {
			if statusRank(e.Status) < statusRank(want) {
				want = e.Status
			}
		}
		if sub.Tenants[0].Error != "" {
			want = policy.StatusError
		}
		assert.Equal(t, string(want), row[2], row[1])
		n, _ := strconv.Atoi(row[3])
		failing += n
	}
	assert.Equal(t, r.Summary.FailingAtOrAbove, failing)

	envs, results := 0, 0
	for _, l := range links {
		page, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(l[1])))
		require.NoError(t, err, "link %s leads to a page", l[1])
		html := string(page)
		envs += strings.Count(html, `<option value="`) - 1 // the environment filter: "All environments" and one per environment
		results += strings.Count(html, `data-rule="`)
		assert.Equal(t, 1, strings.Count(html, "<h1>"))
	}
	assert.Equal(t, len(r.Environments), envs, "each environment is on its tenant's page")
	assert.Equal(t, len(r.Results), results, "each result is on its tenant's page")

	// A fleet's HTML on standard output is the summary, which says where the tenants' pages are written.
	var b strings.Builder
	require.NoError(t, f.New(Options{}).Write(&b, r))
	assert.Contains(t, b.String(), "--output DIR")
	assert.NotContains(t, b.String(), `<a href="tenants/`)

	// Up to the threshold, the report is one page.
	small := largeReport(FleetThreshold, 6)
	require.False(t, IsFleet(small))
	written, err = WriteFiles(t.TempDir(), []Format{f}, small, Options{})
	require.NoError(t, err)
	assert.Len(t, written, 1)
}

// A tenant's report holds its environments, results, drift and fix outcomes only, counted again.
func TestForTenantKeepsOneTenantAndCountsItAgain(t *testing.T) {
	t.Parallel()
	r := largeReport(300, 3)
	r.Drift = &Drift{NewFailures: []DriftResult{{Tenant: "tenant-000", RuleID: "W365.R.1"}, {Tenant: "tenant-001", RuleID: "W365.R.1"}},
		Persisting: []DriftResult{{Tenant: "tenant-001", RuleID: "W365.R.2", FirstSeen: r.CollectedAt.AddDate(0, -1, 0)},
			{Tenant: "tenant-000", RuleID: "W365.R.2", FirstSeen: r.CollectedAt.AddDate(0, 0, -3)}}}
	r.Fix = &Fix{Mode: "apply", Outcomes: []FixOutcome{{Tenant: "tenant-000", Status: "applied"}, {Tenant: "tenant-002", Status: "failed"}}}
	sub := r.ForTenant("tenant-000")
	require.Len(t, sub.Tenants, 1)
	assert.Len(t, sub.Environments, 100)
	assert.Len(t, sub.Results, 100*len(r.Rules))
	for _, res := range sub.Results {
		assert.Equal(t, "tenant-000", res.Tenant)
	}
	total := 0
	for _, n := range sub.Summary.Environments {
		total += n
	}
	assert.Equal(t, 100, total)
	assert.Less(t, sub.Summary.Results[policy.StatusFail], r.Summary.Results[policy.StatusFail])
	assert.Equal(t, DriftSummary{NewFailures: 1, Persisting: 1, OldestFirstSeen: &sub.Drift.Persisting[0].FirstSeen}, sub.Drift.Summary)
	assert.Equal(t, map[string]int{"applied": 1}, sub.Fix.Counts)
	assert.Len(t, r.Results, 300*len(r.Rules), "the fleet's report is left as it was")
}

func TestTenantPagesAreDistinctSafeFileNames(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, name := range []string{"Contoso", "contoso", "Contoso Ltd.", "Contoso/Ltd", "../../etc", "R&D [Lab] \\ x", "", "Ünïcode 名前",
		strings.Repeat("very long tenant name ", 10)} {
		p := TenantPage(name)
		assert.Regexp(t, `^[a-z0-9-]+-[0-9a-f]{8}\.html$`, p, name)
		assert.LessOrEqual(t, len(p), 60, name)
		if other, ok := seen[p]; ok {
			t.Errorf("%q and %q share the page %s", name, other, p)
		}
		seen[p] = name
	}
}
