package bench

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/emulator"
)

func TestGeneratedTenantsAreValidFixtures(t *testing.T) {
	t.Parallel()
	for _, spec := range []Spec{{Environments: 12, Users: 40, AppUsers: 8}, {Environments: 5, Users: 40, AppUsers: 8, Fixable: true}} {
		fx := Tenant(spec)
		require.Len(t, fx.Environments, spec.Environments)
		for _, e := range fx.Environments {
			assert.Len(t, e.Dataverse.Users, spec.Users, e.Name)
			apps := 0
			for _, u := range e.Dataverse.Users {
				if u.ApplicationID != "" {
					apps++
				}
			}
			assert.Equal(t, spec.AppUsers, apps, e.Name)
			assert.Len(t, e.Dataverse.BusinessUnits, 2, e.Name)
		}
		srv, err := emulator.New(fx, emulator.Options{})
		require.NoError(t, err)
		require.NoError(t, srv.Close())
	}
	assert.Equal(t, Tenant(Spec{Environments: 3}), Tenant(Spec{Environments: 3}), "two runs generate the same tenant")
}

func TestSampleGlobsSelectTheFirstEnvironments(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 50, 100, 500, 1000} {
		got := 0
		for i := 0; i < 1200; i++ {
			if config.Glob(SampleGlob(n), EnvironmentName(i)) {
				got++
				assert.Less(t, i, n)
			}
		}
		assert.Equal(t, n, got, "glob %q", SampleGlob(n))
	}
}

func TestSummariseMeasuresDepthAndPeaks(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	rs := []Record{
		{Org: "", Start: ms(0), End: ms(100)}, // BAP: not Dataverse
		// org a: one request, then three at once, then one: depth 3, three in flight
		{Org: "a", Start: ms(100), End: ms(200)},
		{Org: "a", Start: ms(200), End: ms(300)}, {Org: "a", Start: ms(201), End: ms(301)}, {Org: "a", Start: ms(202), End: ms(302)},
		{Org: "a", Start: ms(302), End: ms(402)},
		// org b: two requests one after the other
		{Org: "b", Start: ms(150), End: ms(250)}, {Org: "b", Start: ms(250), End: ms(350)},
	}
	s := Summarise(rs)
	assert.Equal(t, OrgStats{Orgs: 2, Requests: 7, MaxPerOrg: 5, Depth: 3, MaxInFlight: 4, MaxInFlightPerOrg: 3}, s)
	assert.Len(t, Between(rs, ms(200), ms(300)), 4)
}

func TestTraceTellsOrganizationsApartByTheirHosts(t *testing.T) {
	t.Parallel()
	fx := Tenant(Spec{Environments: 3, Users: 40, AppUsers: 8})
	srv, err := emulator.New(fx, emulator.Options{})
	require.NoError(t, err)
	defer srv.Close()
	orgs := map[string]bool{}
	for _, e := range fx.Environments {
		req, err := http.NewRequest(http.MethodGet, srv.InstanceURL(e.Name)+"api/data/v9.2/WhoAmI", nil)
		require.NoError(t, err)
		orgs[orgOf(req)] = true
	}
	assert.Len(t, orgs, 3, "one organization per host")
	assert.NotContains(t, orgs, "")
	for _, u := range []string{srv.Authority() + "/oauth2/v2.0/token", srv.BAPURL() + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"} {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		require.NoError(t, err)
		assert.Empty(t, orgOf(req), "not Dataverse: %s", u)
	}
}

func TestGoalsAreCheckedAgainstTheRun(t *testing.T) {
	t.Parallel()
	r := &Result{
		Params: Params{Concurrency: 128, PerEnvironment: 10, DataverseLimit: 52},
		Scan: ScanSummary{Ratio: 1.1, MaxInFlight: 128, MaxInFlightPerEnv: 9, PeakRSSBytes: 150 << 20, CollectPeakRSSBytes: 300 << 20,
			TokenRequests: 2, TokenAudiences: 2, MaxTokensPerAudience: 1},
		Sequential:     SequentialSummary{Environments: 50, Speedup: 110},
		Evaluation:     EvalSummary{PerEnvMS: 0.9, OPAEvalSeconds: 4, SpeedupVsOPA: 3, OPAResultsMatch: true},
		Fix:            FixSummary{Environments: 100, Ratio: 1.3, MaxInFlightPerEnv: 1},
		HarnessSeconds: 120,
	}
	met := map[string]bool{}
	for _, g := range goals(r) {
		met[g.Name] = g.Met
	}
	assert.Equal(t, map[string]bool{
		"scan within the lower bound": true, "concurrency bounds respected": true, "speed-up over concurrency 1": true,
		"evaluation per environment": false, "evaluation faster than opa eval": true, "peak RSS of the scan process (json, csv)": true,
		"peak RSS of audit collect -o": false, "token requests": true, "fix within its lower bound, writes in order": false,
		"harness run time": true,
	}, met)
	r.Scan.MaxTokensPerAudience = 2
	for _, g := range goals(r) {
		if g.Name == "token requests" {
			assert.False(t, g.Met, "a tenant and audience given two tokens")
		}
	}
	r.Goals = goals(r)
	md := Markdown(r)
	assert.Contains(t, md, "| evaluation per environment | ≤ 0.5 ms | 0.900 ms | **no** |")
	assert.Equal(t, len(r.Goals), strings.Count(md[strings.Index(md, "| Goal |"):], "\n")-2)
}

// The fleet profile splits the environments between tenants with clients of their own, and runs Work 365 in
// the given share of them; the others are Dataverse environments without it and Teams environments.
func TestTheFleetProfile(t *testing.T) {
	t.Parallel()
	fleet := Fleet(Spec{Environments: 200, Users: 20, AppUsers: 5, Tenants: 10, Work365Share: 0.25})
	require.Len(t, fleet, 10)
	clients, names := map[string]bool{}, map[string]bool{}
	w365, teams, total := 0, 0, 0
	for _, f := range fleet {
		assert.Len(t, f.Environments, 20)
		clients[f.Clients[0].ClientID] = true
		for _, e := range f.Environments {
			total++
			names[e.Name] = true
			switch {
			case e.Dataverse == nil:
				teams++
			case len(e.Dataverse.Solutions) > 0 && e.Dataverse.Solutions[0].UniqueName == "Work365":
				w365++
			}
			if e.Dataverse != nil {
				assert.Equal(t, f.Clients[0].ClientID, e.Dataverse.Users[0].ApplicationID, "the tenant's own auditor")
			}
		}
	}
	assert.Len(t, clients, 10, "a client per tenant")
	assert.Len(t, names, 200)
	assert.Equal(t, 50, w365)
	assert.Positive(t, teams)
	assert.Equal(t, TenantID, Fleet(Spec{Environments: 3})[0].Tenant.ID, "one tenant keeps the single-tenant names")
}
