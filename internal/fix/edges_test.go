package fix

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// A sandbox with nothing automatic to do (only a person's steps) is no sandbox "fixed in this run": production
// stays held back rather than waiting for it.
func TestASandboxWithOnlyManualStepsDoesNotOpenTheGate(t *testing.T) {
	t.Parallel()
	s := snap(env("p", "Prod", "Production"), env("s", "Sandbox", "Sandbox"))
	results := []policy.Result{failing("p", "W365.SERVICE.1", act(ActSetServiceUser, "app_id", testApp)),
		failing("s", "W365.SERVICE.1", manual("Point the service user at the application user", "Open the settings"))}
	p := BuildPlan(s, results, critical, Options{SandboxTypes: []string{"Sandbox"}})
	sb := envPlan(t, p, "Sandbox")
	require.Empty(t, sb.Steps)
	require.Len(t, sb.Manual, 1)
	prod := envPlan(t, p, "Prod")
	assert.Equal(t, GateClosed, prod.Gate)
	assert.Contains(t, prod.GateReason, "held back because no sandbox")
}

// Below the minimum version only automatic changes are withheld: an environment whose steps are all a person's
// is not blocked, and its manual steps stay.
func TestAnOldVersionWithNothingAutomaticIsNotBlocked(t *testing.T) {
	t.Parallel()
	old := env("o", "Old", "Developer")
	old.Dataverse.Work365.Version = "3.4.0.0"
	p := BuildPlan(snap(old), []policy.Result{failing("o", "W365.INSTALL.1", manual("Upgrade Work 365", "Open AppSource"))}, nil,
		Options{MinVersion: "3.5"})
	o := envPlan(t, p, "Old")
	assert.Empty(t, o.Blocked)
	assert.Empty(t, o.Steps)
	require.Len(t, o.Manual, 1)
	assert.Equal(t, "Upgrade Work 365", o.Manual[0].Title)
}

// Steps name users as an admin knows them: a person by name and sign-in name, an application user by name,
// an unknown one by ID; the cache is cleared by the configured action, or "clear cache".
func TestStepDescriptionsNameUsersAndTheCacheAction(t *testing.T) {
	t.Parallel()
	e := env("d", "Dev", "Developer")
	e.Dataverse.ApplicationUsers = []snapshot.User{{ID: "app-1", FullName: "# Work 365", ApplicationID: testApp, DomainName: "app@contoso.example"}}
	e.Dataverse.ServiceRoleHolders = []snapshot.User{{ID: "PERSON-1", FullName: "Pat Person", DomainName: "pat@contoso.example"}}
	cases := []struct {
		name   string
		action map[string]any
		opts   Options
		want   string
	}{
		{"a person", act(ActRemoveRole, "user_id", "person-1", "role", "Work 365 Service"), Options{},
			`Remove the role "Work 365 Service" from "Pat Person" (pat@contoso.example)`},
		{"an application user", act(ActEnableUser, "user_id", "app-1"), Options{}, `Enable the application user "# Work 365"`},
		{"an unknown user", act(ActEnableUser, "user_id", "gone-1"), Options{}, "Enable the application user gone-1"},
		{"the default cache action", act(ActClearCache), Options{}, "Clear the Work 365 cache (clear cache)"},
		{"a configured cache action", act(ActClearCache), Options{ClearCacheName: "w365_ClearCache"}, "Clear the Work 365 cache (w365_ClearCache)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, describe(tc.action, &e, tc.opts))
		})
	}
}

// Within an environment, outcomes are listed as they were planned: the automatic steps, then a person's, then
// what was not applied; the order within each group is kept.
func TestOutcomesAreGroupedWithinAnEnvironment(t *testing.T) {
	t.Parallel()
	o := func(env, status string, action Action, desc string) Outcome {
		return Outcome{Tenant: "contoso", Environment: env, Status: status, Step: Step{Action: action, Description: desc}}
	}
	outcomes := []Outcome{
		o("B", OutcomeNotApplied, ActAssignRole, "b-not-applied"),
		o("A", OutcomeNotApplied, ActClearCache, "a-not-applied-1"),
		o("A", OutcomeManual, ActManual, "a-manual"),
		o("A", OutcomeApplied, ActCreateAppUser, "a-create"),
		o("A", OutcomeNotApplied, ActAssignRole, "a-not-applied-2"),
		o("A", OutcomeFailed, ActAssignRole, "a-assign"),
		o("A", OutcomeManual, ActSetServiceUser, "a-held-as-manual"),
	}
	sortOutcomes(outcomes)
	var got []string
	for _, x := range outcomes {
		got = append(got, x.Step.Description)
	}
	assert.Equal(t, []string{"a-create", "a-assign", "a-held-as-manual", "a-manual", "a-not-applied-1", "a-not-applied-2", "b-not-applied"}, got)
}

// An application user is created in the business unit the plan names, or else in the root business unit,
// which is read for it; an organization without one is an error that says so.
func TestAnApplicationUserIsCreatedInTheRootBusinessUnitWhenThePlanNamesNone(t *testing.T) {
	t.Parallel()
	r := quietRig(t)
	snap, results, _ := r.plan(t, "Contoso Legacy")
	plan := BuildPlan(snap, results, r.eng.Rules(), Options{Environments: []string{"Contoso Legacy"}, Roles: testRoles,
		SandboxTypes: []string{"Sandbox"}, MinVersion: "3.5", AllowProduction: true})
	ep := &plan.Environments[0]
	var create *Step
	for i := range ep.Steps {
		if ep.Steps[i].Action == ActCreateAppUser {
			create = &ep.Steps[i]
		}
	}
	require.NotNil(t, create, "Contoso Legacy needs its application user")
	require.NotEmpty(t, str(create.Params, "business_unit_id"), "the policy names the root business unit")
	delete(create.Params, "business_unit_id")
	ep.Steps = []Step{*create}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "run", "fix", "test", func() time.Time { return now })
	require.NoError(t, err)
	defer j.Close()
	opts := r.options(j)
	opts.Sleep = noSleep
	res, err := Apply(context.Background(), plan, opts)
	require.NoError(t, err)
	created := outcomeOf(t, res, ActCreateAppUser)
	assert.Equal(t, OutcomeApplied, created.Status, created.Reason)
	var root *snapshot.BusinessUnit
	for _, e := range snap.Tenants[0].Environments {
		if e.Name == "Contoso Legacy" {
			root = e.Dataverse.RootBusinessUnit
		}
	}
	require.NotNil(t, root)
	found := 0
	for _, u := range r.srv.Rows("Contoso Legacy", "systemusers") {
		if u["applicationid"] == testApp {
			found++
			assert.Equal(t, root.ID, u["_businessunitid_value"])
		}
	}
	assert.Equal(t, 1, found)
}

func TestRootUnitIsAnErrorWhenTheOrganizationHasNone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, want, err string
	}{
		{`{"value":[{"businessunitid":"bu-root","name":"Contoso"}]}`, "bu-root", ""},
		{`{"value":[]}`, "", "no root business unit found"},
	} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(tc.body))
		}))
		dv, err := api.NewDataverse(&api.Client{HTTP: srv.Client(), Tokens: staticToken{}}, srv.URL, 0)
		require.NoError(t, err)
		id, err := rootUnit(context.Background(), dv)
		srv.Close()
		assert.Equal(t, tc.want, id)
		if tc.err == "" {
			assert.NoError(t, err)
		} else {
			assert.EqualError(t, err, tc.err)
		}
	}
}

type staticToken struct{}

func (staticToken) Token(context.Context, string) (string, error) { return "token", nil }
