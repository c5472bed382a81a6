package fix

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// Plans built from hand-made snapshots and results: the rules of BuildPlan without an emulator or a policy run.

const testApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"

var testRoles = RoleNames{Service: "Work 365 Service", Portal: "Work 365 Portal Service"}

// env is a readable environment running Work 365 at version 3.6.
func env(id, name, typ string) snapshot.Environment {
	return snapshot.Environment{ID: id, Name: name, Type: typ, Status: snapshot.StatusOK, InstanceURL: "https://" + id + ".example/",
		Dataverse: &snapshot.Dataverse{Work365: snapshot.Solution{Installed: true, Version: "3.6.0.0"}}}
}

func snap(envs ...snapshot.Environment) *snapshot.Snapshot {
	return &snapshot.Snapshot{Tenants: []snapshot.Tenant{{Name: "contoso", Environments: envs}}}
}

// failing is a failing result of a rule in an environment that asks for the given actions.
func failing(envID, rule string, actions ...map[string]any) policy.Result {
	return policy.Result{EnvironmentID: envID, RuleID: rule, Status: policy.StatusFail, Remediation: &policy.Remediation{Actions: actions}}
}

func waived(envID, rule, expires string, actions ...map[string]any) policy.Result {
	r := failing(envID, rule, actions...)
	r.Status, r.Waiver = policy.StatusWaived, &policy.WaiverInfo{Expires: expires, Reason: "migration"}
	return r
}

func act(kind Action, kv ...string) map[string]any {
	a := map[string]any{"action": string(kind)}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	return a
}

func manual(title string, steps ...any) map[string]any {
	return map[string]any{"action": string(ActManual), "title": title, "steps": steps}
}

var critical = []policy.Rule{{ID: "W365.SERVICE.1", Severity: "critical"}, {ID: "W365.ROLES.1", Severity: "high"}}

func actions(steps []Step) []Action {
	out := []Action{}
	for _, s := range steps {
		out = append(out, s.Action)
	}
	return out
}

func envPlan(t *testing.T, p *Plan, name string) EnvPlan {
	t.Helper()
	for _, e := range p.Environments {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no plan for %s in %+v", name, p.Environments)
	return EnvPlan{}
}

func TestWaivedStepsAreListedAsNotAppliedWithTheirExpiry(t *testing.T) {
	t.Parallel()
	s := snap(env("d", "Dev", "Developer"))
	results := []policy.Result{
		waived("d", "W365.ROLES.1", "2027-06-30", act(ActAssignRole, "app_id", testApp, "role", "Work 365 Service"),
			manual("Check the portal", "Open the portal")),
	}
	ep := envPlan(t, BuildPlan(s, results, nil, Options{Roles: testRoles}), "Dev")
	assert.Empty(t, ep.Steps)
	require.Len(t, ep.NotApplied, 1)
	assert.Equal(t, ActAssignRole, ep.NotApplied[0].Action)
	assert.Equal(t, "the failure of W365.ROLES.1 is waived until 2027-06-30", ep.NotApplied[0].Reason)
	assert.Empty(t, ep.Manual, "a waived rule's manual steps are dropped")
}

func TestAStepSharedWithANonWaivedRuleIsKept(t *testing.T) {
	t.Parallel()
	assign := act(ActAssignRole, "app_id", testApp, "role", "Work 365 Service")
	for _, order := range []string{"waived first", "waived last"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			w := waived("d", "W365.ROLES.3", "2027-01-31", assign)
			f := failing("d", "W365.ROLES.1", act(ActAssignRole, "app_id", "E4B1A995-ABE3-4350-A61C-65FCCD32E8BD", "role", "work 365 service"))
			results := []policy.Result{w, f}
			if order == "waived last" {
				results = []policy.Result{f, w}
			}
			ep := envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{Roles: testRoles}), "Dev")
			require.Len(t, ep.Steps, 1, "the same step, keyed case-insensitively")
			assert.Equal(t, ActAssignRole, ep.Steps[0].Action)
			assert.Empty(t, ep.NotApplied, "the waived duplicate is not listed as left out")
		})
	}
}

func TestManualStepsAreListedOnce(t *testing.T) {
	t.Parallel()
	m := manual("Reassign the flows", "Open Power Automate", "Change the owner")
	results := []policy.Result{failing("d", "W365.BIND.1", m), failing("d", "W365.BIND.2", m, manual("Other", "x"))}
	ep := envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{}), "Dev")
	require.Len(t, ep.Manual, 2)
	assert.Equal(t, "Reassign the flows", ep.Manual[0].Title)
	assert.Equal(t, []string{"Open Power Automate", "Change the owner"}, ep.Manual[0].Steps)
	assert.Empty(t, ep.Steps)
}

// The cache is cleared only after a write of the same environment: alone, it is left out with the reason.
func TestClearingTheCacheAloneIsNotPlanned(t *testing.T) {
	t.Parallel()
	clear := act(ActClearCache)
	ep := envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), []policy.Result{failing("d", "W365.SERVICE.3", clear)}, nil, Options{}), "Dev")
	assert.Empty(t, ep.Steps)
	require.Len(t, ep.NotApplied, 1)
	assert.Equal(t, "nothing else changes in this environment", ep.NotApplied[0].Reason)

	with := []policy.Result{failing("d", "W365.SERVICE.3", clear), failing("d", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp))}
	ep = envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), with, nil, Options{}), "Dev")
	assert.Equal(t, []Action{ActSetServiceUser, ActClearCache}, actions(ep.Steps), "in dependency order, whatever the rules' order")
}

func TestStepsAreOrderedByDependency(t *testing.T) {
	t.Parallel()
	results := []policy.Result{
		failing("d", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp), act(ActClearCache)),
		failing("d", "W365.ROLES.1", act(ActAssignRole, "app_id", testApp, "role", "Work 365 Service")),
		failing("d", "W365.APPUSER.3", act(ActEnableUser, "user_id", "u1")),
		failing("d", "W365.APPUSER.1", act(ActCreateAppUser, "app_id", testApp)),
		failing("d", "W365.LEGACY.1", act(ActRemoveRole, "user_id", "p1", "role", "Work 365 Service", "role_id", "r1")),
	}
	ep := envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{Roles: testRoles, FixPrivileges: true}), "Dev")
	assert.Equal(t, []Action{ActCreateAppUser, ActEnableUser, ActAssignRole, ActSetServiceUser, ActRemoveRole, ActClearCache}, actions(ep.Steps))

	ep = envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{Roles: testRoles}), "Dev")
	assert.NotContains(t, actions(ep.Steps), ActRemoveRole)
	require.Len(t, ep.NotApplied, 1)
	assert.Contains(t, ep.NotApplied[0].Reason, "needs --fix-privileges")
}

// Whatever a policy asks for, audit fix assigns only the Work 365 roles.
func TestOnlyTheWork365RolesAreAssigned(t *testing.T) {
	t.Parallel()
	results := []policy.Result{failing("d", "ACME.1",
		act(ActAssignRole, "app_id", testApp, "role", "System Administrator"),
		act(ActAssignRole, "app_id", testApp, "role", "system customizer"),
		act(ActAssignRole, "app_id", testApp, "role", "Basic User"),
		act(ActAssignRole, "app_id", testApp, "role", "Work 365 Portal Service"),
	)}
	ep := envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{Roles: testRoles}), "Dev")
	require.Len(t, ep.Steps, 1)
	assert.Equal(t, "Work 365 Portal Service", ep.Steps[0].Params["role"])
	require.Len(t, ep.NotApplied, 3)
	assert.Contains(t, ep.NotApplied[0].Reason, `never assigns "System Administrator": it would give full control`)
	assert.Contains(t, ep.NotApplied[1].Reason, `never assigns "system customizer"`)
	assert.Contains(t, ep.NotApplied[2].Reason, `assigns only the Work 365 roles ("Work 365 Service" and "Work 365 Portal Service"), not "Basic User"`)

	// With no role names configured nothing is assignable; the forbidden ones are refused first, by name.
	ep = envPlan(t, BuildPlan(snap(env("d", "Dev", "Developer")), results, nil, Options{}), "Dev")
	assert.Empty(t, ep.Steps)
	assert.Len(t, ep.NotApplied, 4)
}

// Every type that is not a known non-production one is production: Default (Microsoft's production
// environment), an empty type and a type this version does not know.
func TestEveryTypeButSandboxDeveloperAndTrialIsProduction(t *testing.T) {
	t.Parallel()
	for typ, prod := range map[string]bool{"Production": true, "Default": true, "": true, "SomethingNew": true, "Teams": true,
		"Sandbox": false, "sandbox": false, "Developer": false, "Trial": false} {
		t.Run("type "+typ, func(t *testing.T) {
			t.Parallel()
			results := []policy.Result{failing("e", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp))}
			ep := envPlan(t, BuildPlan(snap(env("e", "Env", typ)), results, critical, Options{}), "Env")
			assert.Equal(t, prod, ep.Production)
			if prod {
				assert.Equal(t, GateClosed, ep.Gate, "no sandbox, no --allow-production: held back")
				assert.Contains(t, ep.GateReason, `no sandbox of tenant "contoso" passes the critical rules`)
			} else {
				assert.Equal(t, GateOpen, ep.Gate)
			}
		})
	}
	// A configured list replaces the default one.
	results := []policy.Result{failing("e", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp))}
	ep := envPlan(t, BuildPlan(snap(env("e", "Env", "Default")), results, critical, Options{NonProductionTypes: []string{"Default"}}), "Env")
	assert.False(t, ep.Production)
}

func TestTheProductionGate(t *testing.T) {
	t.Parallel()
	setUser := act(ActSetServiceUser, "app_id", testApp)
	prod := env("p", "Prod", "Production")
	sandbox := env("s", "Sandbox", "Sandbox")
	otherTenant := snapshot.Tenant{Name: "fabrikam", Environments: []snapshot.Environment{env("f", "Fab Sandbox", "Sandbox")}}
	cases := []struct {
		name    string
		results []policy.Result
		opts    Options
		gate    string
		reason  string
	}{
		{"a sandbox already passes", []policy.Result{failing("p", "W365.SERVICE.1", setUser), {EnvironmentID: "s", RuleID: "W365.SERVICE.1", Status: policy.StatusPass}},
			Options{}, GateOpen, `sandbox "Sandbox" already passes the critical rules`},
		{"a waived critical failure counts as passing", []policy.Result{failing("p", "W365.SERVICE.1", setUser), waived("s", "W365.SERVICE.1", "2027-01-01")},
			Options{}, GateOpen, `sandbox "Sandbox" already passes`},
		{"the sandbox is fixed in this run", []policy.Result{failing("p", "W365.SERVICE.1", setUser), failing("s", "W365.SERVICE.1", setUser)},
			Options{}, GateConditional, `changed only if sandbox "Sandbox" passes the critical rules after its own fixes`},
		{"the sandbox fails and has nothing to fix", []policy.Result{failing("p", "W365.SERVICE.1", setUser), failing("s", "W365.SERVICE.1")},
			Options{}, GateClosed, "held back because no sandbox"},
		{"the sandbox's verification errors", []policy.Result{failing("p", "W365.SERVICE.1", setUser), {EnvironmentID: "s", RuleID: "W365.SERVICE.1", Status: policy.StatusError}},
			Options{}, GateClosed, "held back because no sandbox"},
		{"the sandbox is excluded from this run", []policy.Result{failing("p", "W365.SERVICE.1", setUser), failing("s", "W365.SERVICE.1", setUser)},
			Options{Environments: []string{"Prod"}}, GateClosed, "held back because no sandbox"},
		{"--allow-production", []policy.Result{failing("p", "W365.SERVICE.1", setUser)},
			Options{AllowProduction: true}, GateOpen, "changed because of --allow-production"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap(prod, sandbox)
			s.Tenants = append(s.Tenants, otherTenant) // another tenant's sandbox never opens this tenant's gate
			tc.opts.SandboxTypes = []string{"Sandbox"}
			p := BuildPlan(s, append(tc.results, policy.Result{EnvironmentID: "f", RuleID: "W365.SERVICE.1", Status: policy.StatusPass}), critical, tc.opts)
			ep := envPlan(t, p, "Prod")
			assert.Equal(t, tc.gate, ep.Gate)
			assert.Contains(t, ep.GateReason, tc.reason)
			if tc.gate == GateClosed {
				assert.Zero(t, p.Automatic()-countSteps(p, "Prod", "Sandbox"), "closed steps are not counted as automatic")
			}
		})
	}
}

func countSteps(p *Plan, skip ...string) int {
	n := 0
	for _, e := range p.Environments {
		if e.Blocked == "" && e.Gate != GateClosed && !contains(skip, e.Name) {
			n += len(e.Steps)
		}
	}
	return n
}

func TestEnvironmentsThatCannotBeChangedAreBlocked(t *testing.T) {
	t.Parallel()
	unread := env("u", "Unread", "Developer")
	unread.Status = snapshot.StatusError
	old := env("o", "Old", "Developer")
	old.Dataverse.Work365.Version = "3.4.0.0"
	results := []policy.Result{
		failing("u", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp)),
		failing("o", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp), manual("Point the service user", "x")),
		failing("o", "W365.INSTALL.1", manual("Upgrade Work 365", "Open AppSource")),
	}
	p := BuildPlan(snap(unread, old), results, nil, Options{MinVersion: "3.5"})
	assert.Equal(t, "the environment could not be read completely: it is never changed", envPlan(t, p, "Unread").Blocked)
	o := envPlan(t, p, "Old")
	assert.Contains(t, o.Blocked, "Work 365 3.4.0.0 is below 3.5")
	assert.Empty(t, o.Steps)
	require.Len(t, o.NotApplied, 1)
	assert.Equal(t, "Work 365 must be upgraded first", o.NotApplied[0].Reason)
	assert.Equal(t, "Upgrade Work 365", o.Manual[0].Title, "the upgrade is the first manual step")
	assert.Zero(t, p.Automatic())
}

func TestASoftDeletedApplicationUserBlocksItsApp(t *testing.T) {
	t.Parallel()
	e := env("d", "Dev", "Developer")
	e.Dataverse.ApplicationUsers = []snapshot.User{{ID: "old", ApplicationID: testApp, DeletedState: 1, FullName: "Work 365"}}
	results := []policy.Result{failing("d", "W365.APPUSER.1", act(ActCreateAppUser, "app_id", testApp), act(ActPurgeAppUser, "app_id", testApp, "user_id", "old"),
		act(ActClearCache)), failing("d", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", strings2upper(testApp)))}
	ep := envPlan(t, BuildPlan(snap(e), results, nil, Options{}), "Dev")
	assert.Empty(t, ep.Steps)
	reasons := map[Action]string{}
	for _, st := range ep.NotApplied {
		reasons[st.Action] = st.Reason
	}
	assert.Contains(t, reasons[ActCreateAppUser], "soft-deleted application user with this App ID blocks creating a new one")
	assert.Contains(t, reasons[ActSetServiceUser], "soft-deleted application user")
	assert.Equal(t, purgeIsManual, reasons[ActPurgeAppUser])
	assert.Equal(t, "nothing else changes in this environment", reasons[ActClearCache])
}

func strings2upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestRuleAndEnvironmentFiltersAreGlobs(t *testing.T) {
	t.Parallel()
	results := []policy.Result{
		failing("l", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp)),
		failing("l", "W365.ROLES.1", act(ActAssignRole, "app_id", testApp, "role", "Work 365 Service")),
		failing("d", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp)),
		failing("d", "ACME.9", act("teleport")),
	}
	s := snap(env("l", "R&D/Lab", "Developer"), env("d", "Dev", "Developer"))
	p := BuildPlan(s, results, nil, Options{Environments: []string{"*/lab"}, Rules: []string{"w365.roles.*"}, Roles: testRoles})
	require.Len(t, p.Environments, 1)
	assert.Equal(t, "R&D/Lab", p.Environments[0].Name)
	assert.Equal(t, []Action{ActAssignRole}, actions(p.Environments[0].Steps))

	p = BuildPlan(s, results, nil, Options{Environments: []string{"d"}})
	ep := envPlan(t, p, "Dev")
	require.Len(t, ep.NotApplied, 1, "by ID; an action this version does not know is listed, never run")
	assert.Equal(t, "this version of audit does not know how to apply it", ep.NotApplied[0].Reason)
	assert.Equal(t, 1, p.Automatic())
}

// A conditional production environment goes ahead only when a sandbox of its tenant fixed in this run passes
// afterwards; a failed or erroring verification holds it back.
func TestConditionalProductionWaitsForItsSandbox(t *testing.T) {
	t.Parallel()
	setUser := act(ActSetServiceUser, "app_id", testApp)
	plan := func() *Plan {
		s := snap(env("p", "Prod", "Production"), env("s", "Sandbox", "Sandbox"))
		p := BuildPlan(s, []policy.Result{failing("p", "W365.SERVICE.1", setUser), failing("s", "W365.SERVICE.1", setUser)}, critical,
			Options{SandboxTypes: []string{"Sandbox"}})
		require.Equal(t, GateConditional, envPlan(t, p, "Prod").Gate)
		return p
	}
	errBoom := assert.AnError
	cases := []struct {
		name   string
		verify func(ctx context.Context, tenant string, ids []string) ([]string, error)
		held   bool
	}{
		{"the sandbox passes", func(_ context.Context, _ string, ids []string) ([]string, error) { return []string{"Sandbox"}, nil }, false},
		{"the sandbox still fails", func(context.Context, string, []string) ([]string, error) { return nil, nil }, true},
		{"the verification errors", func(context.Context, string, []string) ([]string, error) { return []string{"Sandbox"}, errBoom }, true},
		{"no verification", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			verify := tc.verify
			if verify != nil {
				verify = func(ctx context.Context, tenant string, ids []string) ([]string, error) {
					asked = append(asked, tenant+":"+strings.Join(ids, ","))
					return tc.verify(ctx, tenant, ids)
				}
			}
			// No credentials: a step that is attempted fails with "no credentials", one held back says so.
			res, err := Apply(context.Background(), plan(), ApplyOptions{VerifySandboxes: verify})
			require.NoError(t, err)
			byEnv := map[string]Outcome{}
			for _, o := range res.Outcomes {
				byEnv[o.Environment] = o
			}
			assert.Equal(t, OutcomeFailed, byEnv["Sandbox"].Status)
			if tc.held {
				assert.Equal(t, OutcomeHeldBack, byEnv["Prod"].Status)
				assert.Contains(t, byEnv["Prod"].Reason, "no sandbox of tenant \"contoso\" passes the critical rules after this run's fixes")
			} else {
				assert.Equal(t, OutcomeFailed, byEnv["Prod"].Status, "attempted")
				assert.Equal(t, "no credentials for tenant contoso", byEnv["Prod"].Reason)
			}
			if verify != nil {
				assert.Equal(t, []string{"contoso:s"}, asked)
			}
		})
	}
}
