package collect

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	usApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
	euApp = "5e56ae97-9be1-40d3-938b-99ea52175a30"
)

func startDemo(t *testing.T, opts emulator.Options) (*emulator.Server, Target) {
	t.Helper()
	fx, err := emulator.LoadFixture(filepath.Join("..", "..", "testdata", "tenants", "demo.yaml"))
	require.NoError(t, err)
	return startFixture(t, fx, opts)
}

func startFixture(t testing.TB, fx *emulator.Fixture, opts emulator.Options) (*emulator.Server, Target) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	srv, err := emulator.New(fx, opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	src, err := auth.New(auth.Config{TenantID: srv.TenantID(), ClientID: fx.Clients[0].ClientID, AuthorityHost: srv.URL(),
		Secret: fx.Clients[0].Secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	return srv, Target{Name: "contoso", TenantID: srv.TenantID(), BAPURL: srv.BAPURL(), BAPScope: srv.BAPScope(),
		HTTP: srv.HTTPClient(), Tokens: src}
}

func options() Options {
	return Options{
		SolutionName: "Work365", AppIDs: map[string]string{"US": usApp, "EU": euApp},
		RoleNames: []string{"Work 365 Service", "Work 365 Portal Service"}, SettingsTable: "w365_configuration",
		ServiceUserLookup: "w365_serviceuserid", SolutionFriendlyName: "Work 365", TablePrefix: "w365_",
		LookbackDays: 7, RecentJobs: 5, JobNamePrefixes: []string{"Work 365", "w365"},
		Now: func() time.Time { return now },
	}
}

func env(t *testing.T, s *snapshot.Snapshot, name string) *snapshot.Environment {
	t.Helper()
	for i := range s.Tenants[0].Environments {
		if e := &s.Tenants[0].Environments[i]; e.Name == name {
			return e
		}
	}
	t.Fatalf("no environment %q", name)
	return nil
}

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func TestCollectReadsWhatTheRulesNeedAndNothingElse(t *testing.T) {
	t.Parallel()
	_, target := startDemo(t, emulator.Options{})
	snap, err := New(options()).Collect(context.Background(), []Target{target})
	require.NoError(t, err)
	require.Len(t, snap.Tenants, 1)
	assert.Nil(t, snap.Tenants[0].Error)
	assert.Len(t, snap.Tenants[0].Environments, 9)
	assert.Equal(t, snapshot.SchemaVersion, snap.SchemaVersion)

	legacy := env(t, snap, "Contoso Legacy")
	assert.Equal(t, snapshot.StatusOK, legacy.Status)
	assert.Equal(t, "Production", legacy.Type)
	assert.Equal(t, "unitedstates", legacy.Region)
	dv := legacy.Dataverse
	require.NotNil(t, dv)
	assert.Equal(t, snapshot.Solution{Installed: true, UniqueName: "Work365", FriendlyName: "Work 365", Version: "3.5.4.0", Managed: true,
		InstalledOn: "2023-02-01T00:00:00Z", Publisher: "DefaultPublishercontosolegacy", MatchedBy: snapshot.MatchUniqueName,
		Tried: []string{`unique name "Work365"`, `friendly name "Work 365"`}}, dv.Work365)
	// Where Work 365 keeps its service user, as the metadata says: the bind goes through the mixed-case
	// navigation property, the read through the lowercase value column.
	assert.Equal(t, &snapshot.Schema{SettingsTable: "w365_configuration", EntitySet: "w365_configurations", PrimaryID: "w365_configurationid",
		Lookup: "w365_serviceuserid", Navigation: "w365_ServiceUserId", Source: "metadata"}, dv.Schema)
	assert.Empty(t, dv.ApplicationUsers, "no Work 365 application user (the auditor's own is not one)")

	// The service user is the licensed human account, read on its own because it is no application user.
	require.NotNil(t, dv.ServiceUser.User)
	assert.True(t, dv.ServiceUser.Configured)
	assert.Equal(t, "svc-work365@contoso.onmicrosoft.com", dv.ServiceUser.User.DomainName)
	assert.True(t, dv.ServiceUser.User.Licensed)
	assert.False(t, dv.ServiceUser.User.IsApplication())

	// Failed Work 365 jobs in the last 7 days: the 12-day-old one and the non-Work 365 job are left out.
	assert.Equal(t, 2, dv.FailedJobs.Count)
	assert.Equal(t, []string{"Work 365 - Sync Subscriptions", "Work 365 - Generate Invoices"}, names(dv.FailedJobs.Recent, func(j snapshot.Job) string { return j.Name }))
	assert.Equal(t, now.AddDate(0, 0, -7), dv.FailedJobs.Since)

	// Only what a retired or disabled account owns is kept: not the classic workflow, not Jane's flow or template.
	assert.Equal(t, []string{"Work 365 - Renewal Reminder"}, names(dv.Flows, func(f snapshot.Flow) string { return f.Name }))
	assert.True(t, dv.Flows[0].Owner.Disabled)
	assert.Equal(t, []string{"w365_sharedoffice365"}, names(dv.ConnectionReferences, func(c snapshot.ConnectionReference) string { return c.LogicalName }))
	assert.Equal(t, []string{"Invoice Notification"}, names(dv.EmailTemplates, func(e snapshot.EmailTemplate) string { return e.Title }))
	assert.True(t, dv.EmailTemplates[0].Owner.HoldsServiceRole)
	assert.False(t, dv.EmailTemplates[0].Owner.Disabled)

	// People holding a Work 365 role, with the roles they hold.
	require.Len(t, dv.ServiceRoleHolders, 1)
	assert.Equal(t, "Work 365 Service Account", dv.ServiceRoleHolders[0].FullName)
	assert.Equal(t, []string{"Work 365 Service"}, names(dv.ServiceRoleHolders[0].Roles, func(r snapshot.Role) string { return r.Name }))

	europe := env(t, snap, "Contoso Europe").Dataverse
	// A non-interactive person (access mode 4, no application ID) is no application user.
	require.Len(t, europe.ServiceRoleHolders, 1)
	assert.Equal(t, "Old Service Account", europe.ServiceRoleHolders[0].FullName)
	assert.Equal(t, 4, europe.ServiceRoleHolders[0].AccessMode)
	require.Len(t, europe.ApplicationUsers, 1)
	app := europe.ApplicationUsers[0]
	assert.Equal(t, usApp, app.ApplicationID)
	assert.Equal(t, 4, app.AccessMode)
	assert.Equal(t, []string{"Work 365 Portal Service", "Work 365 Service"}, names(app.Roles, func(r snapshot.Role) string { return r.Name }))
	require.NotNil(t, app.BusinessUnit)
	assert.Equal(t, "contosoeu", app.BusinessUnit.Name)
	for _, r := range app.Roles {
		assert.Equal(t, app.BusinessUnit.ID, r.BusinessUnitID, "roles come from the user's own business unit")
	}
	assert.Equal(t, app.ID, europe.ServiceUser.UserID)
	assert.Equal(t, europe.RootBusinessUnit.ID, app.BusinessUnit.ID)

	training := env(t, snap, "Contoso Training").Dataverse
	assert.False(t, training.ServiceUser.Configured, "the settings row exists with an empty lookup")
	assert.NotEmpty(t, training.ServiceUser.SettingID)

	marketing := env(t, snap, "Contoso Marketing")
	assert.Equal(t, snapshot.StatusOK, marketing.Status)
	assert.False(t, marketing.Dataverse.Work365.Installed)

	// A role held through a team counts, with the team.
	prod := env(t, snap, "Contoso Production").Dataverse
	require.Len(t, prod.ApplicationUsers, 1)
	var viaTeam []string
	for _, r := range prod.ApplicationUsers[0].Roles {
		if r.Team != nil {
			viaTeam = append(viaTeam, r.Name+" through "+r.Team.Name)
		}
	}
	assert.Equal(t, []string{"Work 365 Portal Service through Work 365 Integration"}, viaTeam)
	// Templates of the system-managed users are kept as disabled owners without an Entra identity; the rules
	// tell them apart.
	assert.Equal(t, []string{"Case Created", "Order Confirmation"}, names(prod.EmailTemplates, func(e snapshot.EmailTemplate) string { return e.Title }))
	for _, tpl := range prod.EmailTemplates {
		assert.True(t, tpl.Owner.Disabled)
		assert.Empty(t, tpl.Owner.ObjectID)
	}
	// An environment in admin mode is read: the auditor's application user is a System Administrator.
	assert.Equal(t, snapshot.StatusOK, env(t, snap, "Contoso Sandbox").Status)

	def := env(t, snap, "Contoso (default)")
	assert.Equal(t, snapshot.StatusSkipped, def.Status)
	assert.False(t, def.HasDataverse)

	portal := env(t, snap, "Contoso Partner Portal")
	assert.Equal(t, snapshot.StatusError, portal.Status)
	require.NotNil(t, portal.Error)
	assert.Equal(t, 403, portal.Error.HTTPStatus)
	assert.Equal(t, "0x80072560", portal.Error.Code)
	assert.Contains(t, portal.Error.Message, "add one (Power Platform admin center")
}

func TestCollectNeverExceedsItsConcurrencyBounds(t *testing.T) {
	t.Parallel()
	generated := bench.Tenant(bench.Spec{Environments: 40, Users: 20, AppUsers: 5})
	cases := []struct {
		name                string
		fixture             *emulator.Fixture // nil: the demo tenant
		global, perEnv      int
		environments, reads int // environments in scope, environments read from Dataverse
	}{
		{"demo tenant, both bounds tight", nil, 5, 2, 9, 8},
		{"many environments, the global bound binds", generated, 16, 10, 40, 40},
		{"many environments, the per-environment bound binds", generated, 64, 3, 40, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var srv *emulator.Server
			var target Target
			if tc.fixture == nil {
				srv, target = startDemo(t, emulator.Options{Latency: 20 * time.Millisecond})
			} else {
				srv, target = startFixture(t, tc.fixture, emulator.Options{Latency: 20 * time.Millisecond})
			}
			opts := options()
			opts.Concurrency, opts.PerEnvironment = tc.global, tc.perEnv
			var mu sync.Mutex
			inProgress, maxInProgress := 0, 0
			opts.Progress = func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.Done {
					inProgress--
				} else {
					inProgress++
					maxInProgress = max(maxInProgress, inProgress)
				}
			}
			snap, err := New(opts).Collect(context.Background(), []Target{target})
			require.NoError(t, err)
			require.Len(t, snap.Tenants[0].Environments, tc.environments)
			st := srv.Stats()
			assert.LessOrEqual(t, st.MaxInFlight, tc.global, "requests in flight overall")
			assert.Greater(t, st.MaxInFlight, 1, "requests did run concurrently")
			assert.Len(t, st.ByEnvironment, tc.reads)
			for id, e := range st.ByEnvironment {
				assert.LessOrEqual(t, e.MaxInFlight, tc.perEnv, "requests in flight in %s", id)
				assert.Zero(t, e.Throttled, id)
			}
			assert.LessOrEqual(t, maxInProgress, tc.global, "environments read at once")
		})
	}
}

// Dataverse answers 429 beyond its concurrent-request limit; the collector waits Retry-After and reads
// everything anyway.
func TestCollectWaitsOutThrottling(t *testing.T) {
	t.Parallel()
	srv, target := startDemo(t, emulator.Options{Latency: 20 * time.Millisecond, ConcurrencyLimit: 2})
	opts := options()
	opts.PerEnvironment = 6
	target.Client = &api.Client{HTTP: target.HTTP, Tokens: target.Tokens}
	snap, err := New(opts).Collect(context.Background(), []Target{target})
	require.NoError(t, err)
	throttled := 0
	for _, e := range srv.Stats().ByEnvironment {
		throttled += e.Throttled
	}
	assert.Positive(t, throttled, "the limit was hit")
	for _, e := range snap.Tenants[0].Environments {
		if e.Name == "Contoso Partner Portal" {
			continue // no access: 403
		}
		assert.NotEqual(t, snapshot.StatusError, e.Status, "%s: %v", e.Name, e.Error)
	}
	assert.Positive(t, target.Client.Stats().Retries)
}

func TestTokensAreRequestedOncePerAudience(t *testing.T) {
	t.Parallel()
	srv, target := startDemo(t, emulator.Options{})
	snap, err := New(options()).Collect(context.Background(), []Target{target})
	require.NoError(t, err)
	// Each organization is its own audience, as on the real service: one token for BAP and one per organization.
	want := map[string]int{"https://service.powerapps.com": 1}
	for _, e := range snap.Tenants[0].Environments {
		if e.InstanceURL != "" {
			want[strings.TrimSuffix(e.InstanceURL, "/")] = 1
		}
	}
	require.Len(t, want, 9, "the demo tenant has eight organizations")
	assert.Equal(t, want, srv.Stats().TokenRequests)
	assert.Equal(t, int64(len(want)), target.Tokens.(*auth.Source).Requests())
}

// forgetting records the scopes a collection forgets, on top of a real token source.
type forgetting struct {
	*auth.Source
	mu     sync.Mutex
	forgot []string
}

func (f *forgetting) Forget(scope string) {
	f.mu.Lock()
	f.forgot = append(f.forgot, scope)
	f.mu.Unlock()
	f.Source.Forget(scope)
}

// A collection that lets each environment's data go lets its organization's token go too, once the
// environment is read, and still asks for each token once; a collection that keeps the data keeps the tokens
// (a fix writes with them).
func TestACollectionThatLetsDataGoForgetsEachOrganizationsToken(t *testing.T) {
	t.Parallel()
	for _, drop := range []bool{true, false} {
		t.Run(fmt.Sprint("drop=", drop), func(t *testing.T) {
			t.Parallel()
			srv, target := startDemo(t, emulator.Options{})
			tokens := &forgetting{Source: target.Tokens.(*auth.Source)}
			target.Tokens = tokens
			opts := options()
			opts.DropData = drop
			snap, err := New(opts).Collect(context.Background(), []Target{target})
			require.NoError(t, err)
			var scopes []string
			for _, e := range snap.Tenants[0].Environments {
				if e.Status == snapshot.StatusOK || e.Status == snapshot.StatusError && e.InstanceURL != "" {
					scopes = append(scopes, strings.TrimSuffix(e.InstanceURL, "/")+"/.default")
				}
			}
			require.NotEmpty(t, scopes)
			if drop {
				assert.ElementsMatch(t, scopes, tokens.forgot)
			} else {
				assert.Empty(t, tokens.forgot)
			}
			for aud, n := range srv.Stats().TokenRequests {
				assert.Equal(t, 1, n, aud)
			}
		})
	}
}

func TestATenantWhoseListIsRefusedSaysHowToRegisterTheApp(t *testing.T) {
	t.Parallel()
	srv, target := startDemo(t, emulator.Options{})
	require.NoError(t, srv.SetBAPFaults(emulator.Faults{Rules: []emulator.FaultRule{{Match: "BAP", Status: 403}}}))
	snap, err := New(options()).Collect(context.Background(), []Target{target})
	require.NoError(t, err)
	te := snap.Tenants[0].Error
	require.NotNil(t, te)
	assert.Equal(t, "environments", te.Stage)
	assert.True(t, strings.Contains(te.Message, "adminApplications/{client-id}"), te.Message)
	assert.Empty(t, snap.Tenants[0].Environments)
}
