package collect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// names is the tenant of the tests below: Work 365 under names the configuration may not know.
const namesFixture = `
tenant: {id: 2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182, name: names}
clients:
  - {name: Auditor, client_id: 7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d, secret: s}
environments:
  - name: Renamed
    dataverse:
      domain: renamed
      roles: [System Administrator, Work 365 Service, Work 365 Portal Service]
      solutions: [{uniquename: W365Billing, friendlyname: WORK 365, version: 3.6.0.0}]
      work365: {service_user: null}
  - name: By publisher
    dataverse:
      domain: bypublisher
      roles: [System Administrator, Work 365 Service, Work 365 Portal Service]
      publishers: [{uniquename: w365pub, friendlyname: Work 365 Ltd, prefix: w365}]
      solutions:
        - {uniquename: W365Portal, friendlyname: Billing portal add-on, version: 1.2.0.0, publisher: w365pub, installedon: 2025-03-01T00:00:00Z}
        - {uniquename: W365Core, friendlyname: Billing core, version: 3.7.0.0, publisher: w365pub, installedon: 2024-01-01T00:00:00Z}
      work365: {service_user: null}
  - name: Tables only
    dataverse:
      domain: tablesonly
      roles: [System Administrator]
      solutions: [{uniquename: SomethingElse, friendlyname: Something else, version: 1.0.0.0}]
      custom_tables: [{logical_name: w365_subscription}, {logical_name: contoso_project}]
  - name: Not installed
    dataverse:
      domain: notinstalled
      roles: [System Administrator]
      custom_tables: [{logical_name: contoso_project}]
  - name: Switched off
    state: Disabled
    dataverse:
      domain: switchedoff
      roles: [System Administrator]
`

func startNames(t *testing.T, opts emulator.Options) (*emulator.Server, Target) {
	t.Helper()
	fx, err := emulator.ParseFixture([]byte(namesFixture), "")
	require.NoError(t, err)
	return startFixture(t, fx, opts)
}

// Microsoft's guide warns that Work 365's names vary by version: a solution under another unique name is found
// by its friendly name (compared case-insensitively) or its publisher and recorded with how; tables with
// Work 365's prefix but no solution found are an error that names what was tried, never "not installed".
func TestWork365IsFoundUnderOtherNamesOrReportedAsAnError(t *testing.T) {
	t.Parallel()
	_, target := startNames(t, emulator.Options{})
	opts := options()
	opts.Publisher = "w365pub"
	snap, err := New(opts).Collect(context.Background(), []Target{target})
	require.NoError(t, err)

	renamed := env(t, snap, "Renamed")
	require.Equal(t, snapshot.StatusOK, renamed.Status, "%v", renamed.Error)
	assert.Equal(t, "W365Billing", renamed.Dataverse.Work365.UniqueName)
	assert.Equal(t, snapshot.MatchFriendlyName, renamed.Dataverse.Work365.MatchedBy)

	pub := env(t, snap, "By publisher").Dataverse.Work365
	assert.Equal(t, snapshot.MatchPublisher, pub.MatchedBy)
	assert.Equal(t, "W365Core", pub.UniqueName, "of a publisher's solutions, the earliest installed (the base)")
	assert.Equal(t, "w365pub", pub.Publisher)

	tables := env(t, snap, "Tables only")
	require.Equal(t, snapshot.StatusError, tables.Status)
	assert.Equal(t, "solutions", tables.Error.Stage)
	for _, want := range []string{"w365_subscription", `unique name "Work365"`, `friendly name "Work 365"`, `publisher "w365pub"`, "work365.solution"} {
		assert.Contains(t, tables.Error.Message, want)
	}
	assert.NotContains(t, tables.Error.Message, "contoso_project")

	none := env(t, snap, "Not installed")
	assert.Equal(t, snapshot.StatusOK, none.Status)
	assert.False(t, none.Dataverse.Work365.Installed)

	off := env(t, snap, "Switched off")
	assert.Equal(t, snapshot.StatusSkipped, off.Status)
	assert.Equal(t, "the environment is disabled in the Power Platform admin center", off.SkipReason)
}

// Finding the schema costs at most two requests per environment: the table's definition and the lookup's
// relationship where Work 365 is installed, the list of custom tables where it is not; none when the
// configuration names both.
func TestDiscoveryCostsAtMostTwoRequestsPerEnvironment(t *testing.T) {
	t.Parallel()
	srv, target := startDemo(t, emulator.Options{})
	requests := func(opts Options) map[string]int {
		srv.ResetStats()
		_, err := New(opts).Collect(context.Background(), []Target{target})
		require.NoError(t, err)
		out := map[string]int{}
		for id, e := range srv.Stats().ByEnvironment {
			out[id] = e.Requests
		}
		return out
	}
	discovered := requests(options())
	configured := options()
	configured.SettingsEntitySet, configured.ServiceUserNavigation = "w365_configurations", "w365_ServiceUserId"
	given := requests(configured)
	prod, marketing := srv.EnvironmentID("Contoso Production"), srv.EnvironmentID("Contoso Marketing")
	assert.Equal(t, 2, discovered[prod]-given[prod], "installed: the table's definition and the lookup's relationship")
	assert.Equal(t, 2, discovered[marketing], "not installed: the solution, then the custom tables")
	assert.Equal(t, 2, given[marketing])
}

// Expanded collections come inline; the nextLink beside them is followed only when the inline rows may be cut
// short (as many as a page), and each row is kept once whether the link continues the collection or repeats it.
func TestExpandedCollectionsAreCompleteWithoutDuplicates(t *testing.T) {
	t.Parallel()
	fx, err := emulator.ParseFixture([]byte(`
tenant: {name: many}
clients: [{name: Auditor, client_id: 7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d, secret: s}]
service_principals: [{app_id: e4b1a995-abe3-4350-a61c-65fccd32e8bd, name: Work 365}]
environments:
  - name: Roles
    dataverse:
      domain: roles
      roles: [System Administrator, Basic User, Work 365 Service, Work 365 Portal Service, Salesperson]
      users:
        - {key: w365, applicationid: e4b1a995-abe3-4350-a61c-65fccd32e8bd, roles: [Work 365 Service, Work 365 Portal Service, Basic User, Salesperson]}
      solutions: [{uniquename: Work365, friendlyname: Work 365, version: 3.6.0.0}]
      work365: {service_user: w365}
`), "")
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		pageSize int
	}{
		{"complete inline, the link repeats the rows", 0},
		{"cut at a page, the link continues", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, target := startFixture(t, fx, emulator.Options{})
			opts := options()
			opts.PageSize = tc.pageSize
			snap, err := New(opts).Collect(context.Background(), []Target{target})
			require.NoError(t, err)
			e := env(t, snap, "Roles")
			require.Equal(t, snapshot.StatusOK, e.Status, "%v", e.Error)
			require.Len(t, e.Dataverse.ApplicationUsers, 1)
			assert.Equal(t, []string{"Basic User", "Salesperson", "Work 365 Portal Service", "Work 365 Service"},
				names(e.Dataverse.ApplicationUsers[0].Roles, func(r snapshot.Role) string { return r.Name }))
		})
	}
}

// Microsoft's own sample payloads go through the collector's decoders: unknown columns, @odata.etag, ownerid and
// nested links are ignored, and an expanded collection's rows are kept.
func TestMicrosoftSamplePayloadsDecode(t *testing.T) {
	t.Parallel()
	body := func(name string) string {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "payloads", name))
		require.NoError(t, err)
		return string(raw)
	}
	var base string
	var paths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/data/v9.2/systemusers"):
			_, _ = w.Write([]byte(body("systemusers_human_full_columns.json")))
		case strings.HasPrefix(r.URL.Path, "/api/data/v9.2/teams"):
			_, _ = w.Write([]byte(strings.ReplaceAll(body("systemusers_list_expand.json"), "[Organization Uri]", base)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	base = srv.URL
	client := &api.Client{HTTP: srv.Client(), Tokens: staticTokens{}, Sleep: func(context.Context, time.Duration) error { return nil }}
	dv, err := api.NewDataverse(client, srv.URL+"/", 0)
	require.NoError(t, err)
	c := New(options())
	r := &reader{c: c, dv: dv, sem: make(chan struct{}, 2), requests: c.requests.tenant(false)}

	users, err := r.applicationUsers(context.Background())
	require.NoError(t, err)
	require.Len(t, users, 1)
	u := users[0]
	assert.Equal(t, "jdoe@contoso.onmicrosoft.com", u.DomainName)
	assert.False(t, u.IsApplication(), "no application ID: a person")
	assert.True(t, u.Licensed)
	assert.Equal(t, []snapshot.Role{{ID: "d58407f2-48d5-e711-a82c-000d3a37c848", Name: "Environment Maker", BusinessUnitID: "1360fdcb-b6e1-ee11-904c-002248dad9c1"}}, u.Roles)

	// The expand sample's page decodes (the fields it lacks stay empty); its top-level nextLink is followed, the
	// links of its expanded collections are not.
	paths = nil
	var rows []wireTeam
	require.NoError(t, list(context.Background(), r, "teams", "teams", func(w wireTeam) error { rows = append(rows, w); return nil }))
	assert.Len(t, rows, 2, "the sample's row and the row of the page its nextLink names")
	assert.Equal(t, []string{"/api/data/v9.2/teams", "/api/data/v9.2/systemusers"}, paths)
}

type staticTokens struct{}

func (staticTokens) Token(context.Context, string) (string, error) { return "t", nil }

// More failed jobs than recent_jobs: the count is complete, the list capped at the newest, also when the jobs
// come one a page.
func TestFailedJobsCountEveryJobAndKeepTheNewest(t *testing.T) {
	t.Parallel()
	_, target := startDemo(t, emulator.Options{})
	for _, tc := range []struct {
		name       string
		recentJobs int
		pageSize   int
		want       []string
	}{
		{"more jobs than kept", 1, 0, []string{"Work 365 - Sync Subscriptions"}},
		{"more jobs than kept, one a page", 1, 1, []string{"Work 365 - Sync Subscriptions"}},
		{"fewer jobs than kept", 5, 0, []string{"Work 365 - Sync Subscriptions", "Work 365 - Generate Invoices"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := options()
			opts.RecentJobs, opts.PageSize = tc.recentJobs, tc.pageSize
			snap, err := New(opts).Collect(context.Background(), []Target{target})
			require.NoError(t, err)
			jobs := env(t, snap, "Contoso Legacy").Dataverse.FailedJobs
			assert.Equal(t, 2, jobs.Count)
			assert.Equal(t, tc.want, names(jobs.Recent, func(j snapshot.Job) string { return j.Name }))
		})
	}
}

// A disabled environment (runtime state Disabled in BAP) is skipped with the reason, and nothing is asked of
// its Dataverse organization: not a token, not a request.
func TestADisabledEnvironmentIsSkippedWithoutARequest(t *testing.T) {
	t.Parallel()
	srv, target := startNames(t, emulator.Options{})
	snap, err := New(options()).Collect(context.Background(), []Target{target})
	require.NoError(t, err)

	off := env(t, snap, "Switched off")
	assert.Equal(t, snapshot.StatusSkipped, off.Status)
	assert.Equal(t, "the environment is disabled in the Power Platform admin center", off.SkipReason)
	assert.Nil(t, off.Dataverse)
	assert.Nil(t, off.Error)

	st := srv.Stats()
	assert.NotContains(t, st.ByEnvironment, srv.EnvironmentID("Switched off"), "requests to the disabled organization")
	assert.NotContains(t, st.TokenRequests, strings.TrimSuffix(srv.DataverseScope("Switched off"), "/.default"), "tokens for it")
	// The counters do see the organizations that are read.
	assert.Contains(t, st.ByEnvironment, srv.EnvironmentID("Not installed"))
	assert.Contains(t, st.TokenRequests, strings.TrimSuffix(srv.DataverseScope("Not installed"), "/.default"))
}

// A service-user setting whose GUID is written in another case still points to the application user already
// read: GUIDs compare case-insensitively, and no second read is sent.
func TestServiceUserIDsCompareCaseInsensitively(t *testing.T) {
	t.Parallel()
	const id = "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182"
	for _, tc := range []struct{ name, userID, settingID string }{
		{"upper-case setting", id, strings.ToUpper(id)},
		{"upper-case user", strings.ToUpper(id), id},
		{"mixed case on both sides", "2B3C4D5E-6f70-4A81-9b2c-3D4E5F607182", "2b3c4d5e-6F70-4a81-9B2C-3d4e5f607182"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int32
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				http.NotFound(w, r)
			}))
			t.Cleanup(srv.Close)
			dv, err := api.NewDataverse(&api.Client{HTTP: srv.Client(), Tokens: staticTokens{}}, srv.URL+"/", 0)
			require.NoError(t, err)
			c := New(options())
			r := &reader{c: c, dv: dv, sem: make(chan struct{}, 1), requests: c.requests.tenant(false)}
			app := snapshot.User{ID: tc.userID, FullName: "# Work 365", ApplicationID: usApp}
			u, err := r.serviceUser(context.Background(), tc.settingID, []snapshot.User{app})
			require.NoError(t, err)
			require.NotNil(t, u, "the setting points to the application user")
			assert.Equal(t, "# Work 365", u.FullName)
			assert.Equal(t, tc.userID, u.ID, "the user keeps its own ID")
			assert.Zero(t, requests.Load(), "no second read")
		})
	}
}

// A Retry-After beyond the ceiling stops that environment with an error that names the wait; the others are read.
func TestARetryAfterBeyondTheCeilingStopsOnlyThatEnvironment(t *testing.T) {
	t.Parallel()
	srv, target := startDemo(t, emulator.Options{})
	require.NoError(t, srv.SetFaults("Contoso Finance", emulator.Faults{Rules: []emulator.FaultRule{{Match: "GET solutions", Status: 429, RetryAfter: 900}}}))
	target.Client = &api.Client{HTTP: target.HTTP, Tokens: target.Tokens, MaxRetryAfter: 5 * time.Minute,
		Sleep: func(context.Context, time.Duration) error {
			t.Error("no wait beyond the ceiling is started")
			return nil
		}}
	snap, err := New(options()).Collect(context.Background(), []Target{target})
	require.NoError(t, err)
	fin := env(t, snap, "Contoso Finance")
	require.Equal(t, snapshot.StatusError, fin.Status)
	assert.Contains(t, fin.Error.Message, "a retry would wait 15m0s, longer than the 5m0s ceiling on Retry-After (collect.max_retry_after)")
	assert.Equal(t, snapshot.StatusOK, env(t, snap, "Contoso Production").Status)
}

// The environment list's nextLink is followed on the BAP host only (same scheme, host and port); a link to
// anywhere else is refused and never requested, since it would receive the tenant's BAP token.
func TestTheEnvironmentListFollowsNextLinksOnlyOnItsHost(t *testing.T) {
	t.Parallel()
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached another port: %s", r.URL)
	}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name   string
		link   func(origin string) string
		follow bool
	}{
		{"the next page on the BAP host", func(origin string) string {
			return origin + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2023-06-01&$skiptoken=2"
		}, true},
		{"another port", func(string) string {
			return other.URL + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?$skiptoken=2"
		}, false},
		{"another host", func(string) string {
			return "https://evil.example/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?$skiptoken=2"
		}, false},
		{"plain HTTP", func(origin string) string {
			return "http" + strings.TrimPrefix(origin, "https") + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?$skiptoken=2"
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var origin string
			var requests []string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests = append(requests, r.URL.Query().Get("$skiptoken"))
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Query().Get("$skiptoken") == "" {
					fmt.Fprintf(w, `{"value":[{"name":"00000000-0000-0000-0000-000000000001","properties":{"displayName":"First"}}],"nextLink":%q}`, tc.link(origin))
					return
				}
				fmt.Fprint(w, `{"value":[{"name":"00000000-0000-0000-0000-000000000002","properties":{"displayName":"Second"}}]}`)
			}))
			t.Cleanup(srv.Close)
			origin = srv.URL
			envs, err := New(options()).Environments(context.Background(), Target{BAPURL: srv.URL, BAPScope: "https://service.powerapps.com/.default",
				HTTP: srv.Client(), Tokens: staticTokens{}})
			if tc.follow {
				require.NoError(t, err)
				assert.Equal(t, []string{"First", "Second"}, names(envs, func(e snapshot.Environment) string { return e.Name }))
				assert.Equal(t, []string{"", "2"}, requests)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "refusing to send the token there")
			assert.Equal(t, []string{""}, requests, "the link was not requested")
		})
	}
}
