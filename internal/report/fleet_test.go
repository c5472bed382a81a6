package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
		results += strings.Count(html, `<li class="result" `)
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

// fleetRules are the embedded catalog's IDs, severities and titles, as a large fleet's report carries them.
var fleetRules = []Rule{
	{ID: "W365.APPUSER.1", Severity: "critical", Title: "An application user exists for the region's Work 365 App ID"},
	{ID: "W365.APPUSER.2", Severity: "high", Title: "The application user in use is the region's"},
	{ID: "W365.APPUSER.3", Severity: "critical", Title: "The application user is enabled and not soft-deleted"},
	{ID: "W365.BIND.1", Severity: "medium", Title: "No flows or connection references are bound to a retired account"},
	{ID: "W365.BIND.2", Severity: "medium", Title: "No email templates are bound to a retired account"},
	{ID: "W365.GOV.1", Severity: "low", Title: "Work 365 changes can be validated in a sandbox first"},
	{ID: "W365.INSTALL.1", Severity: "high", Title: "Work 365 is version 3.5 or later"},
	{ID: "W365.JOBS.1", Severity: "high", Title: "No Work 365 background jobs failed recently"},
	{ID: "W365.LEGACY.1", Severity: "medium", Title: "No person still holds Work 365 Service after the switch"},
	{ID: "W365.ROLES.1", Severity: "critical", Title: "The application user holds Work 365 Service"},
	{ID: "W365.ROLES.2", Severity: "high", Title: "The application user holds Work 365 Portal Service"},
	{ID: "W365.ROLES.3", Severity: "medium", Title: "The application user holds no role beyond the two Work 365 roles"},
	{ID: "W365.SERVICE.1", Severity: "critical", Title: "The Work 365 service user is the application user"},
	{ID: "W365.SERVICE.2", Severity: "high", Title: "The Work 365 service user is not a human account"},
	{ID: "W365.SERVICE.3", Severity: "critical", Title: "The Work 365 service user is an active account"},
}

// fleet is the report of a large fleet: n environments in four tenants, each judged by the catalog's 15 rules.
// Its mix is deterministic: one environment in four fails one to three rules (with a message, evidence and
// remediation actions the size of the demo's), one in ten has a waived result, one in twenty has no Dataverse
// and one in twenty-five could not be read; the others pass.
func fleet(n int) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion, Tool: Tool{Name: "audit", Version: "1.2.3"},
		Policy:      PolicyInfo{Digest: "sha256:" + fmt.Sprintf("%064x", 42), Rules: len(fleetRules), Sources: []string{"embedded"}},
		GeneratedAt: time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC), CollectedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		FailOn: "high", Rules: append([]Rule(nil), fleetRules...), Warnings: []string{},
	}
	for i := range fleetRules {
		r.Rules[i].Description = "Checks " + fleetRules[i].Title + "."
		r.Rules[i].Source = "embedded"
	}
	const tenants = 4
	for t := range tenants {
		r.Tenants = append(r.Tenants, Tenant{Name: fmt.Sprintf("tenant%d", t+1), ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", t+1),
			Cloud: "public", Environments: n / tenants})
	}
	for i := range n {
		tenant := r.Tenants[i*tenants/n].Name
		e := Environment{Tenant: tenant, ID: fmt.Sprintf("%08x-1111-4111-8111-%012x", i, i), Name: fmt.Sprintf("%s Environment %04d", tenant, i),
			Type: []string{"Production", "Sandbox", "Developer", "Default"}[i%4], Region: []string{"unitedstates", "europe"}[i%2],
			InstanceURL: fmt.Sprintf("https://org%04d.crm.dynamics.com/", i), CollectionStatus: "ok", Counts: Counts{}}
		appID := "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
		switch {
		case i%25 == 7:
			e.CollectionStatus, e.Error = "error", "systemusers: HTTP 503 Service Unavailable after 6 attempts"
		case i%20 == 3:
			e.CollectionStatus, e.SkipReason = "skipped", "the environment has no Dataverse database"
		default:
			e.Inventory = &Inventory{AppID: appID, Roles: []string{"Work 365 Portal Service", "Work 365 Service"}, Work365Version: "3.6.2.0",
				BusinessUnit: fmt.Sprintf("org%04d", i),
				ApplicationUser: &User{ID: fmt.Sprintf("%08x-2222-4222-8222-%012x", i, i), Name: "# Work 365", DomainName: appID + "@contoso.onmicrosoft.com",
					AppID: appID, Kind: "application", Enabled: true}}
			e.Inventory.ServiceUser = e.Inventory.ApplicationUser
		}
		for j, rule := range fleetRules {
			res := policy.Result{Tenant: tenant, EnvironmentID: e.ID, EnvironmentName: e.Name, RuleID: rule.ID, Title: rule.Title,
				Severity: rule.Severity, Status: policy.StatusPass}
			switch {
			case e.CollectionStatus == "error":
				res.Status, res.Message = policy.StatusError, "The environment could not be read completely: "+e.Error+"."
			case e.CollectionStatus == "skipped":
				res.Status, res.Message = policy.StatusNotApplicable, "The environment has no Dataverse database."
			case i%4 == 1 && (7*j+i)%len(fleetRules) < 1+i%3: // 7 is prime to 15: one to three rules
				res.Status = policy.StatusFail
				res.Message = fmt.Sprintf("The Work 365 application user %q (App ID %s) does not meet %s: it holds the roles "+
					"\"System Administrator\" and \"Work 365 Portal Service\" but not \"Work 365 Service\" from business unit org%04d.", "# Work 365", appID, rule.ID, i)
				res.Evidence = map[string]any{"application_user": map[string]any{"id": e.Inventory.ApplicationUser.ID, "full_name": "# Work 365",
					"app_id": appID, "is_disabled": false}, "roles": []any{"System Administrator", "Work 365 Portal Service"}, "region": e.Region, "geo": "US"}
				res.Remediation = &policy.Remediation{Automatic: true, Summary: "In the Power Platform admin center open Environments, select the " +
					"environment, then Settings → Users + permissions → Application users, select the Work 365 application user, choose Edit security " +
					"roles and add Work 365 Service from the user's business unit; then in Work 365 → Admin Hub choose Clear Cache.",
					Actions: []map[string]any{{"action": "assign_role", "app_id": appID, "role": "Work 365 Service"}, {"action": "clear_cache"}}}
			case i%10 == 5 && j == 11:
				res.Status, res.Message = policy.StatusWaived, "The application user holds System Administrator."
				res.Waiver = &policy.WaiverInfo{Reason: "Migration until the cut-over", Owner: "jdoe@contoso.com", Ticket: "CHG-2291", Expires: "2027-06-30"}
			}
			e.Counts[res.Status]++
			r.Results = append(r.Results, res)
		}
		e.Status = overall(e.Counts)
		r.Environments = append(r.Environments, e)
	}
	r.Summary = summarize(r, r.FailOn)
	return r
}
