package fix

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// Each step re-checks, on the state read just before it, that it still makes sense: its rule's precondition
// and the invariant that Work 365 runs as an enabled user holding Work 365 Service.

const (
	appUS    = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
	appEU    = "5e56ae97-9be1-40d3-938b-99ea52175a30"
	appOther = "0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
)

// stepsFixture: one environment whose service user is a person holding Work 365 Service; an application user
// that holds Work 365 Service only through a team; a disabled one; one without the role; a second person who
// holds it too; no Work 365 Portal Service role (an incomplete installation); no Clear Cache action.
const stepsFixture = `
tenant: {id: 7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d, name: lab, domain: lab.onmicrosoft.com}
clients:
  - {name: Auditor, client_id: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d, secret: lab-secret, admin_management_app: true}
service_principals:
  - {app_id: e4b1a995-abe3-4350-a61c-65fccd32e8bd, name: Work 365}
  - {app_id: 5e56ae97-9be1-40d3-938b-99ea52175a30, name: Work 365 EU}
  - {app_id: 0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a, name: Reporting}
environments:
  - name: Lab
    sku: Developer
    location: unitedstates
    dataverse:
      domain: lab
      version: 9.2.25101.00150
      roles: [System Administrator, Basic User, Work 365 Service]
      users:
        - {key: person, fullname: Pat Person, domainname: pat@lab.onmicrosoft.com, roles: [Work 365 Service, Basic User]}
        - {key: other, fullname: Olga Other, domainname: olga@lab.onmicrosoft.com, roles: [Work 365 Service]}
        - {key: us, fullname: "# Work 365", applicationid: e4b1a995-abe3-4350-a61c-65fccd32e8bd, accessmode: 4, roles: []}
        - {key: eu, fullname: "# Work 365 EU", applicationid: 5e56ae97-9be1-40d3-938b-99ea52175a30, accessmode: 4, isdisabled: true, roles: [Work 365 Service]}
        - {key: rep, fullname: "# Reporting", applicationid: 0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a, accessmode: 4, roles: [Basic User]}
      teams:
        - {name: Work 365 Service Team, roles: [Work 365 Service], members: [us]}
      solutions:
        - {uniquename: Work365, friendlyname: Work 365, version: 3.6.2.0, ismanaged: true, installedon: 2025-06-01T00:00:00Z}
      work365: {service_user: person, clear_cache_action: null}
`

type stepsRig struct {
	*rig
	env *snapshot.Environment
}

func newStepsRig(t *testing.T) *stepsRig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.yaml")
	require.NoError(t, os.WriteFile(path, []byte(stepsFixture), 0o600))
	r := newRigOf(t, path)
	r.target.Client.Sleep = noSleep
	sr := &stepsRig{rig: r}
	sr.reload(t)
	return sr
}

// reload collects the environment again.
func (r *stepsRig) reload(t *testing.T) {
	t.Helper()
	snap, _, _ := r.plan(t, "Lab")
	r.env = &snap.Tenants[0].Environments[0]
	require.Equal(t, snapshot.StatusOK, r.env.Status, r.env.Error)
}

func (r *stepsRig) userID(t *testing.T, fullName string) string {
	t.Helper()
	for _, u := range r.srv.Rows("Lab", "systemusers") {
		if u["fullname"] == fullName {
			return u["systemuserid"].(string)
		}
	}
	t.Fatalf("no user %q", fullName)
	return ""
}

func (r *stepsRig) roleID(t *testing.T, name string) string {
	t.Helper()
	for _, row := range r.srv.Rows("Lab", "roles") {
		if row["name"] == name {
			return row["roleid"].(string)
		}
	}
	t.Fatalf("no role %q", name)
	return ""
}

// serviceUser is the full name of the user the setting points to.
func (r *stepsRig) serviceUser(t *testing.T) string {
	t.Helper()
	rows := r.srv.Rows("Lab", r.env.Dataverse.Schema.EntitySet)
	require.Len(t, rows, 1)
	id, _ := rows[0]["_"+r.env.Dataverse.Schema.Lookup+"_value"].(string)
	for _, u := range r.srv.Rows("Lab", "systemusers") {
		if u["systemuserid"] == id {
			return u["fullname"].(string)
		}
	}
	return ""
}

// apply runs the given steps, in order, in Lab.
func (r *stepsRig) apply(t *testing.T, steps ...Step) *Result {
	t.Helper()
	ep := EnvPlan{Tenant: "contoso", EnvironmentID: r.env.ID, Name: r.env.Name, Type: r.env.Type, InstanceURL: r.env.InstanceURL,
		Schema: r.env.Dataverse.Schema, Steps: steps, Gate: GateOpen}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "run", "fix", "test", func() time.Time { return now })
	require.NoError(t, err)
	defer j.Close()
	opts := r.options(j)
	opts.Sleep = noSleep
	res, err := Apply(context.Background(), &Plan{Environments: []EnvPlan{ep}}, opts)
	require.NoError(t, err)
	require.Len(t, res.Outcomes, len(steps))
	return res
}

func step(action Action, rule string, kv ...string) Step {
	return Step{Action: action, Params: act(action, kv...), Rules: []string{rule}}
}

func TestTheServiceUserIsOnlySwitchedToAFitUser(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	cases := []struct {
		name   string
		target Step
		reason string
	}{
		{"disabled", step(ActSetServiceUser, "W365.SERVICE.1", "app_id", appEU), `"# Work 365 EU" is disabled: Work 365 cannot run as it`},
		{"without Work 365 Service", step(ActSetServiceUser, "W365.SERVICE.1", "app_id", appOther), `"# Reporting" does not hold "Work 365 Service", which Work 365 needs to run`},
		{"gone", step(ActSetServiceUser, "W365.SERVICE.1", "user_id", "00000000-0000-4000-8000-000000000001"), "no longer exists"},
	}
	for _, tc := range cases {
		res := r.apply(t, tc.target)
		assert.Equal(t, OutcomeFailed, res.Outcomes[0].Status, tc.name)
		assert.Contains(t, res.Outcomes[0].Reason, tc.reason, tc.name)
	}
	assert.Empty(t, r.srv.Writes(), "nothing sent to an unfit user")
	assert.Equal(t, "Pat Person", r.serviceUser(t))

	// The US application user holds Work 365 Service only through its team: that is enough.
	res := r.apply(t, step(ActSetServiceUser, "W365.SERVICE.1", "app_id", appUS))
	assert.Equal(t, OutcomeApplied, res.Outcomes[0].Status, res.Outcomes[0].Reason)
	assert.Equal(t, "# Work 365", r.serviceUser(t))

	res = r.apply(t, step(ActSetServiceUser, "W365.SERVICE.1", "app_id", strings2upper(appUS)))
	assert.Equal(t, OutcomeAlready, res.Outcomes[0].Status)
}

// W365.LEGACY.1 takes Work 365 Service from people only once Work 365 runs as an enabled application user,
// and no rule ever takes it from the current service user.
func TestRolesAreRemovedOnlyWhileWork365KeepsAFitServiceUser(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	service := r.roleID(t, "Work 365 Service")
	person, other := r.userID(t, "Pat Person"), r.userID(t, "Olga Other")
	removeFrom := func(rule, user string) Step {
		return step(ActRemoveRole, rule, "user_id", user, "role", "Work 365 Service", "role_id", service)
	}

	res := r.apply(t, removeFrom("W365.ROLES.3", person), removeFrom("W365.LEGACY.1", person), removeFrom("W365.LEGACY.1", other))
	assert.Equal(t, OutcomeNotApplied, res.Outcomes[0].Status)
	assert.Contains(t, res.Outcomes[0].Reason, `"Pat Person" is the Work 365 service user now: Work 365 Service is not taken from it`)
	assert.Equal(t, OutcomeNotApplied, res.Outcomes[1].Status)
	assert.Equal(t, OutcomeNotApplied, res.Outcomes[2].Status)
	assert.Contains(t, res.Outcomes[2].Reason, `the Work 365 service user is "Pat Person" now, not an enabled application user, so the role of "Olga Other" is still needed`)
	assert.Empty(t, r.srv.Writes())

	// Once the service user is the application user, the people's roles go, in the same run.
	res = r.apply(t, step(ActSetServiceUser, "W365.SERVICE.1", "app_id", appUS), removeFrom("W365.LEGACY.1", person), removeFrom("W365.LEGACY.1", other),
		step(ActRemoveRole, "W365.ROLES.3", "user_id", person, "role", "Basic User", "role_id", r.roleID(t, "Basic User")))
	for _, o := range res.Outcomes {
		assert.Equal(t, OutcomeApplied, o.Status, "%s: %s", o.Step.Action, o.Reason)
	}
	res = r.apply(t, removeFrom("W365.LEGACY.1", person))
	assert.Equal(t, OutcomeAlready, res.Outcomes[0].Status)
	assert.Contains(t, res.Outcomes[0].Reason, "no longer held")
}

// With the service-user setting empty, a person's role is left: it may still be what Work 365 needs.
func TestLegacyRemovalWaitsForAServiceUser(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	rows := r.srv.Rows("Lab", r.env.Dataverse.Schema.EntitySet)
	key := rows[0][r.env.Dataverse.Schema.PrimaryID].(string)
	dv := r.dataverse(t)
	_, err := dv.Write(context.Background(), http.MethodDelete, r.env.Dataverse.Schema.EntitySet+"("+key+")/"+r.env.Dataverse.Schema.Navigation+"/$ref", nil, nil)
	require.NoError(t, err)
	res := r.apply(t, step(ActRemoveRole, "W365.LEGACY.1", "user_id", r.userID(t, "Olga Other"), "role", "Work 365 Service", "role_id", r.roleID(t, "Work 365 Service")))
	assert.Equal(t, OutcomeNotApplied, res.Outcomes[0].Status)
	assert.Contains(t, res.Outcomes[0].Reason, "service-user setting is not set")
}

func TestOnlyTheWork365RolesAreSent(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	// A plan made by hand (or by an older version) cannot smuggle a forbidden role past the step itself.
	res := r.apply(t, step(ActAssignRole, "ACME.1", "app_id", appUS, "role", "System Administrator"),
		step(ActAssignRole, "ACME.1", "app_id", appUS, "role", "Basic User"))
	assert.Equal(t, OutcomeFailed, res.Outcomes[0].Status)
	assert.Contains(t, res.Outcomes[0].Reason, `audit fix never assigns "System Administrator"`)
	assert.Contains(t, res.Outcomes[1].Reason, "not attempted")
	res = r.apply(t, step(ActAssignRole, "ACME.1", "app_id", appUS, "role", "Basic User"))
	assert.Contains(t, res.Outcomes[0].Reason, `not "Basic User"`)
	assert.Empty(t, r.srv.Writes())
}

func TestStepsSayWhyTheyCannotRun(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	noSchema := func(t *testing.T) {
		saved := r.env.Dataverse.Schema
		r.env.Dataverse.Schema = nil
		defer func() { r.env.Dataverse.Schema = saved }()
		res := r.apply(t, step(ActSetServiceUser, "W365.SERVICE.1", "app_id", appUS))
		assert.Contains(t, res.Outcomes[0].Reason, "where this environment keeps Work 365's service user was not read")
	}
	noSchema(t)
	for _, tc := range []struct {
		name   string
		st     Step
		status string
		reason string
	}{
		{"existing application user", step(ActCreateAppUser, "W365.APPUSER.1", "app_id", appUS), OutcomeAlready, `the application user "# Work 365" already exists`},
		{"no application user", step(ActEnableUser, "W365.APPUSER.3", "app_id", "11111111-2222-4333-8444-555555555555"), OutcomeFailed, "there is no application user for App ID 11111111-2222-4333-8444-555555555555"},
		{"enabled already", step(ActEnableUser, "W365.APPUSER.3", "app_id", appUS), OutcomeAlready, `"# Work 365" is enabled`},
		{"role held", step(ActAssignRole, "W365.ROLES.1", "app_id", appEU, "role", "Work 365 Service"), OutcomeAlready, `"# Work 365 EU" already holds "Work 365 Service"`},
		{"role missing", step(ActAssignRole, "W365.ROLES.2", "app_id", appUS, "role", "Work 365 Portal Service"), OutcomeFailed,
			`the role "Work 365 Portal Service" does not exist in the business unit of "# Work 365"`},
		{"unknown action", step("teleport", "ACME.1"), OutcomeFailed, `unknown action "teleport"`},
		{"cache without a change", step(ActClearCache, "W365.SERVICE.3"), OutcomeAlready, "nothing changed in this environment in this run"},
	} {
		res := r.apply(t, tc.st)
		assert.Equal(t, tc.status, res.Outcomes[0].Status, tc.name)
		assert.Contains(t, res.Outcomes[0].Reason, tc.reason, tc.name)
	}
	assert.Empty(t, r.srv.Writes())
}

// The cache is cleared after a change; an environment without the action gets the manual step instead.
func TestTheCacheIsClearedAfterAChangeOrByHand(t *testing.T) {
	t.Parallel()
	r := newStepsRig(t)
	res := r.apply(t, step(ActEnableUser, "W365.APPUSER.3", "app_id", appEU), step(ActClearCache, "W365.SERVICE.3"))
	assert.Equal(t, OutcomeApplied, res.Outcomes[0].Status)
	assert.Equal(t, OutcomeManual, res.Outcomes[1].Status)
	assert.Contains(t, res.Outcomes[1].Reason, `the environment has no w365_ClearCache action: in Dynamics 365 for "Lab" open Work 365 → Admin Hub → Administration → Clear Cache`)
	assert.Equal(t, []string{r.env.ID}, res.Touched["contoso"])
}

// Refusals get the hint that says what to do, by status.
func TestRefusedWritesSayWhatToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		st     Step
		match  string
		hint   string
	}{
		{http.StatusForbidden, step(ActEnableUser, "W365.APPUSER.3", "app_id", appEU), "PATCH systemusers", "lacks a write privilege here"},
		{http.StatusNotFound, step(ActEnableUser, "W365.APPUSER.3", "app_id", appEU), "PATCH systemusers", "the row was deleted after it was read; nothing was created in its place"},
		{http.StatusBadRequest, step(ActCreateAppUser, "W365.APPUSER.1", "app_id", "11111111-2222-4333-8444-555555555555"), "POST systemusers", "Dataverse refused to create the application user"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			r := newStepsRig(t)
			require.NoError(t, r.srv.SetFaults("Lab", emulator.Faults{Rules: []emulator.FaultRule{{Match: tc.match, Status: tc.status}}}))
			res := r.apply(t, tc.st)
			assert.Equal(t, OutcomeFailed, res.Outcomes[0].Status)
			assert.Contains(t, res.Outcomes[0].Reason, tc.hint)
			assert.Len(t, r.srv.Writes(), 1, "a refusal is not sent again")
		})
	}
}

// dataverse is a client of Lab's organization, for changes an administrator makes between runs.
func (r *stepsRig) dataverse(t *testing.T) *api.Dataverse {
	t.Helper()
	dv, err := api.NewDataverse(r.target.Client, r.env.InstanceURL, 0)
	require.NoError(t, err)
	return dv
}
