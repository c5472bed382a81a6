package fix

import (
	"context"
	"fmt"
	"net/http"
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

// The US App ID of Work 365, whose application user the demo tenant's fixes create, enable and configure.
const undoUSApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"

const (
	undoServiceRole = "Work 365 Service"
	undoPortalRole  = "Work 365 Portal Service"
)

// undoRig is the emulated demo tenant with a fix run to undo: it applies a fix, changes the state as an
// administrator would in between, undoes the run and reads what became of it.
type undoRig struct {
	*rig
	t     *testing.T
	dir   string
	undos int // undo runs so far, each journaled as its own run
}

func newUndoRig(t *testing.T) *undoRig {
	t.Helper()
	return &undoRig{rig: newRig(t), t: t, dir: t.TempDir()}
}

// undoFixOptions shape the fix run that is undone afterwards.
type undoFixOptions struct {
	clock      time.Time // the journal's clock; the emulator's is now
	privileges bool      // --fix-privileges: role removals too
	apply      func(*ApplyOptions)
}

// fix plans and applies the fixes of one environment, journaled as run "fix-1" in dir/fix.jsonl.
func (u *undoRig) fix(env string, o undoFixOptions) (string, *Result) {
	t := u.t
	t.Helper()
	if o.clock.IsZero() {
		o.clock = now
	}
	snap, results, plan := u.plan(t, env)
	if o.privileges {
		plan = BuildPlan(snap, results, u.eng.Rules(), Options{Environments: []string{env}, FixPrivileges: true,
			Roles: RoleNames{Service: undoServiceRole, Portal: undoPortalRole}, SandboxTypes: []string{"Sandbox"}, MinVersion: "3.5"})
	}
	require.Len(t, plan.Environments, 1)
	require.NotEmpty(t, plan.Environments[0].Steps)
	path := filepath.Join(u.dir, "fix.jsonl")
	j, err := OpenJournal(path, "fix-1", "fix", "test", func() time.Time { return o.clock })
	require.NoError(t, err)
	opts := u.undoOptions(j)
	if o.apply != nil {
		o.apply(&opts)
	}
	res, _ := Apply(context.Background(), plan, opts)
	require.NoError(t, j.Close())
	return path, res
}

// undoOptions are the options of a run that does not really wait between the attempts of a write.
func (u *undoRig) undoOptions(j *Journal) ApplyOptions {
	opts := u.options(j)
	opts.Sleep = func(context.Context, time.Duration) error { return nil }
	return opts
}

// undoRun is what became of an undo: its plan, result, journal and the writes it sent.
type undoRun struct {
	runID   string
	plan    *UndoPlan
	res     *Result
	err     error
	journal string
	writes  []emulator.WriteRecord
}

// undo plans the undo of the last fix run of a journal and applies it, journaled in dir/undo.jsonl as run
// "undo-1" (then "undo-2"…).
func (u *undoRig) undo(fixJournal string, mutate func(*ApplyOptions)) undoRun {
	return u.undoCtx(context.Background(), fixJournal, mutate)
}

func (u *undoRig) undoCtx(ctx context.Context, fixJournal string, mutate func(*ApplyOptions)) undoRun {
	t := u.t
	t.Helper()
	plan, err := BuildUndo(fixJournal, "")
	require.NoError(t, err)
	u.undos++
	out := undoRun{runID: fmt.Sprintf("undo-%d", u.undos), plan: plan, journal: filepath.Join(u.dir, "undo.jsonl")}
	j, err := OpenJournal(out.journal, out.runID, "undo", "test", func() time.Time { return now })
	require.NoError(t, err)
	opts := u.undoOptions(j)
	if mutate != nil {
		mutate(&opts)
	}
	sent := len(u.srv.Writes())
	out.res, out.err = Undo(ctx, plan, opts)
	require.NoError(t, j.Close())
	out.writes = u.srv.Writes()[sent:]
	return out
}

// outcome finds the outcome of the undo of an action whose description contains what.
func (r undoRun) outcome(t *testing.T, action Action, what string) Outcome {
	t.Helper()
	for _, o := range r.res.Outcomes {
		if o.Step.Action == action && strings.Contains(o.Step.Description, what) {
			return o
		}
	}
	require.Failf(t, "no such outcome", "%s %q in %+v", action, what, r.res.Outcomes)
	return Outcome{}
}

// sent lists the writes as "METHOD path", the path relative to the Web API base.
func (r undoRun) sent() []string {
	out := make([]string, 0, len(r.writes))
	for _, w := range r.writes {
		out = append(out, w.Method+" "+strings.TrimPrefix(w.Path, "/api/data/v9.2/"))
	}
	return out
}

// dv is a Dataverse client of the environment, as an administrator's tool would have.
func (u *undoRig) dv(env string) *api.Dataverse {
	dv, err := api.NewDataverse(u.target.Client, u.srv.InstanceURL(env), 0)
	require.NoError(u.t, err)
	return dv
}

// admin writes as an administrator would between the fix and its undo.
func (u *undoRig) admin(env, method, path string, body any) {
	u.t.Helper()
	_, err := u.dv(env).Write(context.Background(), method, path, body, nil)
	require.NoError(u.t, err, "%s %s", method, path)
}

func (u *undoRig) row(env, set, key, id string) map[string]any {
	for _, r := range u.srv.Rows(env, set) {
		if strings.EqualFold(r[key].(string), id) {
			return r
		}
	}
	return nil
}

func (u *undoRig) user(env, id string) map[string]any {
	return u.row(env, "systemusers", "systemuserid", id)
}

// appUser is the ID of the live application user of an App ID ("" when there is none).
func (u *undoRig) appUser(env, app string) string {
	for _, r := range u.srv.Rows(env, "systemusers") {
		if r["applicationid"] == app && r["deletedstate"] == 0 {
			return r["systemuserid"].(string)
		}
	}
	return ""
}

// role is the ID of the copy of a role in a user's business unit.
func (u *undoRig) role(env, userID, name string) string {
	bu := u.user(env, userID)["_businessunitid_value"]
	for _, r := range u.srv.Rows(env, "roles") {
		if r["name"] == name && r["_businessunitid_value"] == bu {
			return r["roleid"].(string)
		}
	}
	require.Failf(u.t, "no such role", "%s in %s", name, env)
	return ""
}

// setting is the Work 365 settings row and the user it points to ("" when empty).
func (u *undoRig) setting(env string) (rowID, userID string) {
	rows := u.srv.Rows(env, "w365_configurations")
	require.Len(u.t, rows, 1)
	userID, _ = rows[0]["_w365_serviceuserid_value"].(string)
	return rows[0]["w365_configurationid"].(string), userID
}

// holds reads through the Web API whether a user holds a role, directly or through one of its teams.
func (u *undoRig) holds(env, userID, name string) bool {
	t := u.t
	t.Helper()
	ctx, dv := context.Background(), u.dv(env)
	held := false
	collect := func(r struct {
		Name string `json:"name"`
	}) error {
		held = held || strings.EqualFold(r.Name, name)
		return nil
	}
	require.NoError(t, api.Each(ctx, dv, api.Query("systemusers("+userID+")/systemuserroles_association", [2]string{"$select", "name"}), collect))
	var teams []string
	require.NoError(t, api.Each(ctx, dv, api.Query("systemusers("+userID+")/teammembership_association", [2]string{"$select", "teamid"}),
		func(r struct {
			ID string `json:"teamid"`
		}) error {
			teams = append(teams, r.ID)
			return nil
		}))
	for _, id := range teams {
		require.NoError(t, api.Each(ctx, dv, api.Query("teams("+id+")/teamroles_association", [2]string{"$select", "name"}), collect))
	}
	return held
}

// assertServiceUserFit checks the invariant of every undo: the setting points to an enabled user that holds
// Work 365 Service, unless it points to a value it already held, unfit, before the fix.
func (u *undoRig) assertServiceUserFit(env string, unfitBefore ...string) {
	t := u.t
	t.Helper()
	_, cur := u.setting(env)
	for _, v := range unfitBefore {
		if strings.EqualFold(cur, v) {
			return
		}
	}
	require.NotEmpty(t, cur, "the service-user setting is empty")
	usr := u.user(env, cur)
	require.NotNil(t, usr, "the service user %s does not exist", cur)
	assert.Equal(t, false, usr["isdisabled"], "the service user %s is disabled", usr["fullname"])
	assert.Equal(t, 0, usr["deletedstate"], "the service user %s is deleted", usr["fullname"])
	assert.True(t, u.holds(env, cur, undoServiceRole), "the service user %s lacks %s", usr["fullname"], undoServiceRole)
}

// undoLegacy is the state of Contoso Legacy after its fix: the application user created, given both roles and made
// the service user in place of the licensed service account.
type undoLegacy struct {
	env, settingRow, app, svc, jdoe, service, portal string
}

func (u *undoRig) legacyFixed(o undoFixOptions) (undoLegacy, string) {
	t := u.t
	t.Helper()
	l := undoLegacy{env: "Contoso Legacy", svc: u.srv.UserID("Contoso Legacy", "svc"), jdoe: u.srv.UserID("Contoso Legacy", "jdoe")}
	l.settingRow, _ = u.setting(l.env)
	journal, res := u.fix(l.env, o)
	require.Zero(t, res.Failed(), "%+v", res.Outcomes)
	l.app = u.appUser(l.env, undoUSApp)
	require.NotEmpty(t, l.app)
	l.service, l.portal = u.role(l.env, l.app, undoServiceRole), u.role(l.env, l.app, undoPortalRole)
	_, cur := u.setting(l.env)
	require.Equal(t, l.app, cur)
	return l, journal
}

func undoStatuses(res *Result) []string {
	out := make([]string, 0, len(res.Outcomes))
	for _, o := range res.Outcomes {
		out = append(out, string(o.Step.Action)+" "+o.Status)
	}
	return out
}

// Undo reverses a fix run newest write first, sends each reversal once, restores the service user the fix
// replaced, disables (never deletes) the user it created, and clears the cache after the restore.
func TestUndoReversesAFixRunNewestFirst(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	l, journal := u.legacyFixed(undoFixOptions{})

	run := u.undo(journal, nil)
	require.NoError(t, run.err)

	var seqs []int
	var actions []Action
	for _, st := range run.plan.Steps {
		seqs = append(seqs, st.Seq)
		actions = append(actions, st.Action)
	}
	assert.Equal(t, []int{5, 4, 3, 2}, seqs, "newest first; the clear_cache of seq 6 has nothing to reverse")
	assert.Equal(t, []Action{ActSetServiceUser, ActAssignRole, ActAssignRole, ActCreateAppUser}, actions)

	assert.Equal(t, []string{
		"PATCH w365_configurations(" + l.settingRow + ")",
		"DELETE systemusers(" + l.app + ")/systemuserroles_association(" + l.portal + ")/$ref",
		"DELETE systemusers(" + l.app + ")/systemuserroles_association(" + l.service + ")/$ref",
		"PATCH systemusers(" + l.app + ")",
		"POST w365_ClearCache",
	}, run.sent())
	assert.Equal(t, []string{"undo_set_service_user applied", "undo_assign_role applied", "undo_assign_role applied",
		"undo_create_app_user applied", "clear_cache applied"}, undoStatuses(run.res))
	assert.Zero(t, run.res.Failed())
	assert.Equal(t, map[string][]string{"contoso": {u.srv.EnvironmentID(l.env)}}, run.res.Touched)

	_, cur := u.setting(l.env)
	assert.Equal(t, l.svc, cur, "the service account the fix replaced is the service user again")
	app := u.user(l.env, l.app)
	require.NotNil(t, app, "created users are disabled, never deleted")
	assert.Equal(t, true, app["isdisabled"])
	assert.Equal(t, 0, app["deletedstate"])
	assert.False(t, u.holds(l.env, l.app, undoServiceRole))
	assert.False(t, u.holds(l.env, l.app, undoPortalRole))
	u.assertServiceUserFit(l.env)

	// Each reversal is journaled in the undo's own run, with the write it reverses.
	id, entries, err := ReadJournal(run.journal, run.runID)
	require.NoError(t, err)
	assert.Equal(t, "undo-1", id)
	require.Len(t, entries, 5)
	for i, want := range []float64{5, 4, 3, 2} {
		assert.Equal(t, want, entries[i].Intent.Params["undoes"], entries[i].Intent.Action)
		require.NotNil(t, entries[i].Outcome)
		assert.Equal(t, OutcomeApplied, entries[i].Outcome.Result)
	}
	assert.Equal(t, ActClearCache, entries[4].Intent.Action)

	// Undone again, every reversal finds its work done and sends nothing.
	again := u.undo(journal, nil)
	require.NoError(t, again.err)
	assert.Empty(t, again.writes)
	for _, o := range again.res.Outcomes {
		assert.Equal(t, OutcomeAlready, o.Status, "%s: %s", o.Step.Action, o.Reason)
	}
}

// A reversal is made only while the state still holds what the fix wrote: a later change by someone else is
// theirs, and a reversal the state already shows is not sent.
func TestUndoLeavesLaterChangesAlone(t *testing.T) {
	t.Parallel()
	type want struct{ action, what, status, reason string }
	tests := []struct {
		name string
		// change is what an administrator does between the fix and its undo.
		change func(u *undoRig, l undoLegacy)
		want   []want
		// sent are the writes the undo sends, with the placeholders APP, SVC, PORTAL, SERVICE and ROW.
		sent []string
		// setting is who the service user is after the undo: APP, SVC or JDOE.
		setting string
	}{
		{
			name: "the service user was pointed at another fit user",
			change: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPost, "systemusers("+l.jdoe+")/systemuserroles_association/$ref",
					map[string]any{"@odata.id": u.dv(l.env).Base() + "roles(" + u.role(l.env, l.jdoe, undoServiceRole) + ")"})
				u.admin(l.env, http.MethodPatch, "w365_configurations("+l.settingRow+")",
					map[string]any{"w365_ServiceUserId@odata.bind": "/systemusers(" + l.jdoe + ")"})
			},
			want: []want{
				{"undo_set_service_user", "", OutcomeNotApplied, "left alone: the service user was changed again after the fix (it points to JDOE now, not to APP, which the fix set)"},
				{"undo_assign_role", undoPortalRole, OutcomeApplied, ""},
				{"undo_assign_role", undoServiceRole + `"`, OutcomeApplied, ""},
				{"undo_create_app_user", "", OutcomeApplied, ""},
			},
			// No restore was made, so there is no stale service user in the cache to clear.
			sent: []string{
				"DELETE systemusers(APP)/systemuserroles_association(PORTAL)/$ref",
				"DELETE systemusers(APP)/systemuserroles_association(SERVICE)/$ref",
				"PATCH systemusers(APP)",
			},
			setting: "JDOE",
		},
		{
			name: "the service user was pointed back already",
			change: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "w365_configurations("+l.settingRow+")",
					map[string]any{"w365_ServiceUserId@odata.bind": "/systemusers(" + l.svc + ")"})
			},
			want: []want{
				{"undo_set_service_user", "", OutcomeAlready, "the setting already points where it did before the fix"},
				{"undo_create_app_user", "", OutcomeApplied, ""},
			},
			sent: []string{
				"DELETE systemusers(APP)/systemuserroles_association(PORTAL)/$ref",
				"DELETE systemusers(APP)/systemuserroles_association(SERVICE)/$ref",
				"PATCH systemusers(APP)",
			},
			setting: "SVC",
		},
		{
			name: "a role the fix assigned was removed",
			change: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodDelete, "systemusers("+l.app+")/systemuserroles_association("+l.portal+")/$ref", nil)
			},
			want: []want{
				{"undo_set_service_user", "", OutcomeApplied, ""},
				{"undo_assign_role", undoPortalRole, OutcomeAlready, "the role is not held (the assignment did not land or was removed since)"},
				{"undo_assign_role", undoServiceRole + `"`, OutcomeApplied, ""},
			},
			sent: []string{
				"PATCH w365_configurations(ROW)",
				"DELETE systemusers(APP)/systemuserroles_association(SERVICE)/$ref",
				"PATCH systemusers(APP)",
				"POST w365_ClearCache",
			},
			setting: "SVC",
		},
		{
			name: "the user the fix created was disabled",
			change: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "w365_configurations("+l.settingRow+")",
					map[string]any{"w365_ServiceUserId@odata.bind": "/systemusers(" + l.svc + ")"})
				u.admin(l.env, http.MethodPatch, "systemusers("+l.app+")", map[string]any{"isdisabled": true})
			},
			want: []want{
				{"undo_create_app_user", "", OutcomeAlready, "the user is disabled"},
			},
			sent: []string{
				"DELETE systemusers(APP)/systemuserroles_association(PORTAL)/$ref",
				"DELETE systemusers(APP)/systemuserroles_association(SERVICE)/$ref",
			},
			setting: "SVC",
		},
		{
			name: "the user the fix created was deleted",
			change: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "w365_configurations("+l.settingRow+")",
					map[string]any{"w365_ServiceUserId@odata.bind": "/systemusers(" + l.svc + ")"})
				u.admin(l.env, http.MethodPatch, "systemusers("+l.app+")", map[string]any{"isdisabled": true})
				u.admin(l.env, http.MethodDelete, "systemusers("+l.app+")", nil)
				u.admin(l.env, http.MethodDelete, "systemusers("+l.app+")", nil)
			},
			want: []want{
				{"undo_assign_role", undoPortalRole, OutcomeAlready, "the user no longer exists"},
				{"undo_assign_role", undoServiceRole + `"`, OutcomeAlready, "the user no longer exists"},
				{"undo_create_app_user", "", OutcomeAlready, "the user no longer exists"},
			},
			sent:    []string{},
			setting: "SVC",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			l, journal := u.legacyFixed(undoFixOptions{})
			tc.change(u, l)
			names := strings.NewReplacer("APP", l.app, "SVC", l.svc, "JDOE", l.jdoe, "PORTAL", l.portal, "SERVICE", l.service, "ROW", l.settingRow)

			run := u.undo(journal, nil)
			require.NoError(t, run.err)
			for _, w := range tc.want {
				o := run.outcome(t, Action(w.action), w.what)
				assert.Equal(t, w.status, o.Status, "%s %s: %s", w.action, w.what, o.Reason)
				assert.Equal(t, names.Replace(w.reason), o.Reason, "%s %s", w.action, w.what)
			}
			sent := []string{}
			for _, s := range tc.sent {
				sent = append(sent, names.Replace(s))
			}
			assert.Equal(t, sent, run.sent())
			_, cur := u.setting(l.env)
			assert.Equal(t, names.Replace(tc.setting), cur)
			u.assertServiceUserFit(l.env)
		})
	}
}

// A user the fix enabled and an administrator disabled since is left as it is: there is nothing to reverse.
func TestUndoOfAnEnableThatWasDisabledSinceSendsNothing(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	const env = "Contoso Finance"
	w365 := u.srv.UserID(env, "w365")
	journal, res := u.fix(env, undoFixOptions{})
	require.Zero(t, res.Failed(), "%+v", res.Outcomes)
	require.Equal(t, false, u.user(env, w365)["isdisabled"])
	u.admin(env, http.MethodPatch, "systemusers("+w365+")", map[string]any{"isdisabled": true})

	run := u.undo(journal, nil)
	require.NoError(t, run.err)
	o := run.outcome(t, "undo_enable_user", "")
	assert.Equal(t, OutcomeAlready, o.Status, o.Reason)
	assert.Equal(t, "the user is disabled", o.Reason)
	for _, w := range run.sent() {
		assert.NotContains(t, w, "PATCH systemusers", "no user is written")
	}
	// The setting points where it pointed before the fix: the user an administrator disabled.
	u.assertServiceUserFit(env, w365)
}

// Undo never leaves Work 365 running as an unfit user: it does not disable the service user, does not take Work
// 365 Service from it, and does not point the setting back at a user that cannot run Work 365.
func TestUndoNeverLeavesWork365RunningAsAnUnfitUser(t *testing.T) {
	t.Parallel()

	t.Run("the user the fix enabled is the service user", func(t *testing.T) {
		t.Parallel()
		u := newUndoRig(t)
		const env = "Contoso Finance"
		w365 := u.srv.UserID(env, "w365")
		journal, res := u.fix(env, undoFixOptions{})
		require.Zero(t, res.Failed(), "%+v", res.Outcomes)

		run := u.undo(journal, nil)
		require.NoError(t, run.err)
		o := run.outcome(t, "undo_enable_user", "")
		assert.Equal(t, OutcomeNotApplied, o.Status)
		assert.Equal(t, `left alone: "# Work 365" is the Work 365 service user now; undoing this would stop Work 365 (point the service user elsewhere first)`, o.Reason)
		// Work 365 Portal Service is not what Work 365 needs to run: its assignment is reversed.
		assert.Equal(t, OutcomeApplied, run.outcome(t, "undo_assign_role", undoPortalRole).Status)
		assert.Equal(t, false, u.user(env, w365)["isdisabled"])
		u.assertServiceUserFit(env)
	})

	tests := []struct {
		name string
		// unfit makes the service account the fix replaced unable to run Work 365.
		unfit  func(u *undoRig, l undoLegacy)
		reason string
	}{
		{
			name: "disabled",
			unfit: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "systemusers("+l.svc+")", map[string]any{"isdisabled": true})
			},
			reason: `left alone: the previous service user cannot run Work 365: "Work 365 Service Account" is disabled: Work 365 cannot run as it, so the service user is left as it is (enable it first)`,
		},
		{
			name: "soft-deleted",
			unfit: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "systemusers("+l.svc+")", map[string]any{"isdisabled": true})
				u.admin(l.env, http.MethodDelete, "systemusers("+l.svc+")", nil)
			},
			reason: `left alone: the previous service user cannot run Work 365: "Work 365 Service Account" is soft-deleted: Work 365 cannot run as it, so the service user is left as it is`,
		},
		{
			name: "deleted",
			unfit: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodPatch, "systemusers("+l.svc+")", map[string]any{"isdisabled": true})
				u.admin(l.env, http.MethodDelete, "systemusers("+l.svc+")", nil)
				u.admin(l.env, http.MethodDelete, "systemusers("+l.svc+")", nil)
			},
			reason: "left alone: the previous service user SVC no longer exists",
		},
		{
			name: "without Work 365 Service",
			unfit: func(u *undoRig, l undoLegacy) {
				u.admin(l.env, http.MethodDelete, "systemusers("+l.svc+")/systemuserroles_association("+u.role(l.env, l.svc, undoServiceRole)+")/$ref", nil)
			},
			reason: `left alone: the previous service user cannot run Work 365: "Work 365 Service Account" does not hold "Work 365 Service", which Work 365 needs to run: the service user is left as it is (assign the role first)`,
		},
	}
	for _, tc := range tests {
		t.Run("the previous service user is "+tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			l, journal := u.legacyFixed(undoFixOptions{})
			tc.unfit(u, l)

			run := u.undo(journal, nil)
			require.NoError(t, run.err)
			restore := run.outcome(t, "undo_set_service_user", "")
			assert.Equal(t, OutcomeNotApplied, restore.Status)
			assert.Equal(t, strings.ReplaceAll(tc.reason, "SVC", l.svc), restore.Reason)
			service := run.outcome(t, "undo_assign_role", undoServiceRole+`"`)
			assert.Equal(t, OutcomeNotApplied, service.Status)
			assert.Equal(t, `left alone: "# Work 365" is the Work 365 service user now; undoing this would stop Work 365 (point the service user elsewhere first)`, service.Reason)
			created := run.outcome(t, "undo_create_app_user", "")
			assert.Equal(t, OutcomeNotApplied, created.Status)
			assert.Equal(t, service.Reason, created.Reason)
			assert.Equal(t, OutcomeApplied, run.outcome(t, "undo_assign_role", undoPortalRole).Status)
			assert.Equal(t, []string{"DELETE systemusers(" + l.app + ")/systemuserroles_association(" + l.portal + ")/$ref"}, run.sent(),
				"only the portal role is taken back; no restore, so no cache to clear")

			_, cur := u.setting(l.env)
			assert.Equal(t, l.app, cur)
			u.assertServiceUserFit(l.env)
		})
	}
}

// A create whose answer was lost leaves no user ID in the journal: undo disables the live application user of
// its App ID created at or after the write (within a minute of clock difference), and leaves one created
// before it, which is someone else's.
func TestUndoOfACreateWhoseAnswerWasLost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// clock is the journal's clock of the fix run; the emulator's stays at now.
		clock time.Time
		// lost loses the create's answer (it lands); otherwise the run is killed before the create is sent and
		// an administrator creates the user.
		lost     bool
		disabled bool
		status   string
		reason   string
	}{
		{name: "created by the write", clock: now, lost: true, disabled: true, status: OutcomeApplied},
		{name: "created by the write, clocks 30s apart", clock: now.Add(30 * time.Second), lost: true, disabled: true, status: OutcomeApplied},
		{name: "created before the write", clock: now.Add(2 * time.Hour), status: OutcomeAlready,
			reason: "no application user of App ID " + undoUSApp + " was created by that run (the create did not land)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			const env = "Contoso Legacy"
			journal, res := u.fix(env, undoFixOptions{clock: tc.clock, apply: func(o *ApplyOptions) {
				first := true
				o.beforeWrite = func(int) error {
					if !first {
						return nil
					}
					first = false
					if !tc.lost {
						return errKilled
					}
					// The create lands but its answer is lost, and so is the read that would confirm it.
					return u.srv.SetFaults(env, emulator.Faults{Rules: []emulator.FaultRule{
						{Match: "POST systemusers", Applied: true, Reset: true, Count: 1},
						{Match: "GET systemusers", Status: http.StatusForbidden, Count: 1},
					}})
				}
			}})
			require.Equal(t, ActCreateAppUser, res.Outcomes[0].Step.Action)
			if tc.lost {
				require.Equal(t, OutcomeUnknown, res.Outcomes[0].Status, res.Outcomes[0].Reason)
			} else {
				require.Equal(t, OutcomeFailed, res.Outcomes[0].Status, res.Outcomes[0].Reason)
				u.admin(env, http.MethodPost, "systemusers", map[string]any{"applicationid": undoUSApp, "accessmode": 4})
			}
			app := u.appUser(env, undoUSApp)
			require.NotEmpty(t, app)

			run := u.undo(journal, nil)
			require.NoError(t, run.err)
			require.Len(t, run.plan.Steps, 1)
			st := run.plan.Steps[0]
			assert.True(t, st.Uncertain)
			assert.Empty(t, st.userID, "no user ID was journaled")
			o := run.outcome(t, "undo_create_app_user", "")
			assert.Equal(t, tc.status, o.Status, o.Reason)
			assert.Equal(t, tc.reason, o.Reason)
			assert.Equal(t, tc.disabled, u.user(env, app)["isdisabled"])
			u.assertServiceUserFit(env)
		})
	}
}

// A created user is found by the ID its create answered with, whatever the clocks say.
func TestUndoOfACreateUsesTheJournaledUserID(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	l, journal := u.legacyFixed(undoFixOptions{clock: now.Add(2 * time.Hour)})
	run := u.undo(journal, nil)
	require.NoError(t, run.err)
	assert.Equal(t, l.app, run.plan.Steps[3].userID)
	assert.Equal(t, OutcomeApplied, run.outcome(t, "undo_create_app_user", "").Status)
	assert.Equal(t, true, u.user(l.env, l.app)["isdisabled"])
	u.assertServiceUserFit(l.env)
}

// A service-user setting that was empty before the fix is emptied again through its navigation property's
// reference, and the cache is cleared after it.
func TestUndoRestoresAnEmptySetting(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	const env = "Contoso Legacy"
	row, _ := u.setting(env)
	u.admin(env, http.MethodDelete, "w365_configurations("+row+")/w365_ServiceUserId/$ref", nil)
	journal, res := u.fix(env, undoFixOptions{})
	require.Zero(t, res.Failed(), "%+v", res.Outcomes)
	_, cur := u.setting(env)
	require.NotEmpty(t, cur)

	run := u.undo(journal, nil)
	require.NoError(t, run.err)
	restore := run.outcome(t, "undo_set_service_user", "")
	assert.Equal(t, OutcomeApplied, restore.Status, restore.Reason)
	assert.Equal(t, "Clear the Work 365 service-user setting again (it was empty)", restore.Step.Description)
	sent := run.sent()
	require.NotEmpty(t, sent)
	assert.Equal(t, "DELETE w365_configurations("+row+")/w365_ServiceUserId/$ref", sent[0])
	assert.Equal(t, "POST w365_ClearCache", sent[len(sent)-1])
	last := run.res.Outcomes[len(run.res.Outcomes)-1]
	assert.Equal(t, ActClearCache, last.Step.Action)
	assert.Equal(t, OutcomeApplied, last.Status)
	_, cur = u.setting(env)
	assert.Empty(t, cur)
	u.assertServiceUserFit(env, "")
}

// A reversal whose own answer is lost is decided by reading the state again: applied when it landed, sent again
// when it did not, unknown when the state cannot be read either; never a failure that is forgotten. Each attempt
// is journaled.
func TestUndoOfAReversalWhoseAnswerIsLost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// action and what name the reversal whose write is faulted; faults are set just before it is sent.
		action, what string
		faults       []emulator.FaultRule
		status       string
		reason       string
		// journaled are the results journaled for the reversal's writes, in order.
		journaled []string
		landed    func(u *undoRig, l undoLegacy) bool
	}{
		{
			name: "restore lands, connection reset", action: "undo_set_service_user",
			faults:    []emulator.FaultRule{{Match: "PATCH w365_configurations", Applied: true, Reset: true, Count: 1}},
			status:    OutcomeApplied,
			reason:    confirmed,
			journaled: []string{OutcomeApplied},
			landed:    func(u *undoRig, l undoLegacy) bool { _, cur := u.setting(l.env); return cur == l.svc },
		},
		{
			name: "role removal lands, answer 500", action: "undo_assign_role", what: undoPortalRole,
			faults:    []emulator.FaultRule{{Match: "DELETE systemusers", Applied: true, Status: http.StatusInternalServerError, Count: 1}},
			status:    OutcomeApplied,
			reason:    confirmed,
			journaled: []string{OutcomeApplied},
			landed:    func(u *undoRig, l undoLegacy) bool { return !u.holds(l.env, l.app, undoPortalRole) },
		},
		{
			name: "disable lands, answer 500", action: "undo_create_app_user",
			faults:    []emulator.FaultRule{{Match: "PATCH systemusers", Applied: true, Status: http.StatusInternalServerError, Count: 1}},
			status:    OutcomeApplied,
			reason:    confirmed,
			journaled: []string{OutcomeApplied},
			landed:    func(u *undoRig, l undoLegacy) bool { return u.user(l.env, l.app)["isdisabled"] == true },
		},
		{
			name: "disable does not land, answer 500", action: "undo_create_app_user",
			faults:    []emulator.FaultRule{{Match: "PATCH systemusers", Status: http.StatusInternalServerError, Count: 1}},
			status:    OutcomeApplied,
			journaled: []string{OutcomeFailed, OutcomeApplied},
			landed:    func(u *undoRig, l undoLegacy) bool { return u.user(l.env, l.app)["isdisabled"] == true },
		},
		{
			name: "disable lands, connection reset, state unreadable", action: "undo_create_app_user",
			faults: []emulator.FaultRule{
				{Match: "PATCH systemusers", Applied: true, Reset: true, Count: 1},
				{Match: "GET systemusers", Status: http.StatusForbidden, Count: 1},
			},
			status:    OutcomeUnknown,
			journaled: []string{OutcomeUnknown},
			landed:    func(u *undoRig, l undoLegacy) bool { return u.user(l.env, l.app)["isdisabled"] == true },
		},
		{
			name: "restore lands, connection reset, state unreadable", action: "undo_set_service_user",
			faults: []emulator.FaultRule{
				{Match: "PATCH w365_configurations", Applied: true, Reset: true, Count: 1},
				{Match: "GET w365_configurations", Status: http.StatusForbidden, Count: 1},
			},
			status:    OutcomeUnknown,
			journaled: []string{OutcomeUnknown},
			landed:    func(u *undoRig, l undoLegacy) bool { _, cur := u.setting(l.env); return cur == l.svc },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			l, journal := u.legacyFixed(undoFixOptions{})
			plan, err := BuildUndo(journal, "")
			require.NoError(t, err)
			target := -1
			for _, st := range plan.Steps {
				if "undo_"+st.Action == Action(tc.action) && strings.Contains(st.Description, tc.what) {
					target = st.Seq
				}
			}
			require.Positive(t, target)

			faulted := false
			var slept atomic.Int32
			run := u.undo(journal, func(o *ApplyOptions) {
				o.Sleep = func(context.Context, time.Duration) error { slept.Add(1); return nil }
				o.beforeWrite = func(seq int) error {
					if faulted || u.undoing(o.Journal, seq) != target {
						return nil
					}
					faulted = true
					return u.srv.SetFaults(l.env, emulator.Faults{Rules: tc.faults})
				}
			})
			require.NoError(t, run.err)
			o := run.outcome(t, Action(tc.action), tc.what)
			assert.Equal(t, tc.status, o.Status, o.Reason)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, o.Reason)
			}
			assert.True(t, tc.landed(u, l), "the reversal landed")
			if tc.status == OutcomeUnknown {
				assert.Equal(t, 1, run.res.Failed(), "an unknown outcome is counted with the failures")
			}

			_, entries, err := ReadJournal(run.journal, run.runID)
			require.NoError(t, err)
			var journaled []string
			for _, e := range entries {
				if e.Intent.Params["undoes"] == float64(target) {
					require.NotNil(t, e.Outcome, "every attempt has an outcome")
					journaled = append(journaled, e.Outcome.Result)
				}
			}
			assert.Equal(t, tc.journaled, journaled)
			if len(tc.journaled) > 1 {
				assert.Positive(t, slept.Load(), "the write was tried again after the wait the options give")
			}

			// The restore landed (or may have): the cache may hold the replaced service user.
			last := run.res.Outcomes[len(run.res.Outcomes)-1]
			assert.Equal(t, ActClearCache, last.Step.Action)
			assert.Equal(t, OutcomeApplied, last.Status)
			u.assertServiceUserFit(l.env)
		})
	}
}

// undoing reads back from the journal being written which fix write an undo write reverses.
func (u *undoRig) undoing(j *Journal, seq int) int {
	_, entries, err := ReadJournal(j.Path(), j.runID)
	require.NoError(u.t, err)
	for _, e := range entries {
		if e.Intent.Seq == seq {
			n, _ := e.Intent.Params["undoes"].(float64)
			return int(n)
		}
	}
	return 0
}

// Without a client for the tenant nothing is sent, and each reversal says why.
func TestUndoWithoutCredentialsForTheTenant(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	l, journal := u.legacyFixed(undoFixOptions{})
	run := u.undo(journal, func(o *ApplyOptions) { o.Clients = nil })
	require.NoError(t, run.err)
	assert.Empty(t, run.writes)
	require.Len(t, run.res.Outcomes, 4)
	for _, o := range run.res.Outcomes {
		assert.Equal(t, OutcomeFailed, o.Status)
		assert.Equal(t, "no credentials for tenant contoso", o.Reason)
	}
	assert.Equal(t, 4, run.res.Failed())
	_, cur := u.setting(l.env)
	assert.Equal(t, l.app, cur)
}

// An interrupted undo stops at the reversal it was making.
func TestUndoStopsWhenInterrupted(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	_, journal := u.legacyFixed(undoFixOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := u.undoCtx(ctx, journal, func(o *ApplyOptions) {
		o.beforeWrite = func(int) error {
			cancel()
			return errKilled
		}
	})
	require.ErrorIs(t, run.err, context.Canceled)
	assert.Empty(t, run.writes)
	require.Len(t, run.res.Outcomes, 1, "nothing after the interrupted reversal is attempted")
	assert.Equal(t, OutcomeFailed, run.res.Outcomes[0].Status)
}

// undoEntry is one write of a hand-written journal: its intent and the outcomes recorded after it.
type undoEntry struct {
	intent   Record
	outcomes []Record
}

// undoJournal appends a run to a journal file.
func undoJournal(t *testing.T, path, runID, kind string, entries ...undoEntry) {
	t.Helper()
	j, err := OpenJournal(path, runID, kind, "test", func() time.Time { return now })
	require.NoError(t, err)
	for _, e := range entries {
		seq, err := j.Intent(e.intent)
		require.NoError(t, err)
		for _, o := range e.outcomes {
			require.NoError(t, j.Outcome(seq, o))
		}
	}
	require.NoError(t, j.Close())
}

var undoSchema = &snapshot.Schema{SettingsTable: "w365_configuration", EntitySet: "w365_configurations", PrimaryID: "w365_configurationid",
	Lookup: "w365_serviceuserid", Navigation: "w365_ServiceUserId"}

// undoWrites are the writes of a fix run as the journal holds them, for BuildUndo.
func undoWrites() []undoEntry {
	applied := []Record{{Result: OutcomeApplied, Status: 204}}
	user := map[string]any{"user_id": "u-1", "full_name": "# Work 365"}
	withRole := func(id string) map[string]any {
		m := map[string]any{"role_id": id}
		for k, v := range user {
			m[k] = v
		}
		return m
	}
	return []undoEntry{
		// 2: the create answered with the new user's ID.
		{Record{Action: ActCreateAppUser, Method: http.MethodPost, Path: "systemusers", Params: map[string]any{"app_id": undoUSApp}},
			[]Record{{Result: OutcomeApplied, Status: 204, CreatedID: "u-1"}}},
		// 3: refused by the service.
		{Record{Action: ActAssignRole, Method: http.MethodPost, Path: "systemusers(u-1)/systemuserroles_association/$ref",
			Params: map[string]any{"role": undoServiceRole}, Before: withRole("r-service")}, []Record{{Result: OutcomeFailed, Status: 400}}},
		// 4: answer lost, then read back as not landed; 5: sent again, applied.
		{Record{Action: ActAssignRole, Method: http.MethodPost, Path: "systemusers(u-1)/systemuserroles_association/$ref",
			Params: map[string]any{"role": undoPortalRole}, Before: withRole("r-portal")},
			[]Record{{Result: OutcomeUnknown}, {Result: OutcomeFailed, Error: "not landed, by re-reading"}}},
		{Record{Action: ActAssignRole, Method: http.MethodPost, Path: "systemusers(u-1)/systemuserroles_association/$ref",
			Params: map[string]any{"role": undoPortalRole}, Before: withRole("r-portal")}, applied},
		// 6: answer lost, state unreadable.
		{Record{Action: ActEnableUser, Method: http.MethodPatch, Path: "systemusers(u-2)", Before: map[string]any{"user_id": "u-2", "full_name": "Pat"}},
			[]Record{{Result: OutcomeUnknown}}},
		// 7: the run was killed while it was sent.
		{Record{Action: ActRemoveRole, Method: http.MethodDelete, Path: "systemusers(u-3)/systemuserroles_association(r-admin)/$ref",
			Params: map[string]any{"role": "System Administrator"}, Before: map[string]any{"user_id": "u-3", "role_id": "r-admin"}}, nil},
		// 8: answer lost, then read back as landed.
		{Record{Action: ActSetServiceUser, Method: http.MethodPatch, Path: "w365_configurations(s-1)",
			Before: settingBefore(undoSchema, &setting{id: "s-1", userID: "u-old"}), After: map[string]any{"user_id": "u-1"}},
			[]Record{{Result: OutcomeUnknown}, {Result: OutcomeApplied, Error: "confirmed by re-reading"}}},
		// 9: nothing to reverse.
		{Record{Action: ActClearCache, Method: http.MethodPost, Path: "w365_ClearCache"}, applied},
		// 10: a purge of an earlier version.
		{Record{Action: ActPurgeAppUser, Method: http.MethodDelete, Path: "systemusers(u-4)"}, applied},
	}
}

// BuildUndo plans the reversal of a run newest write first: refused writes are left out, writes whose answer was
// lost or never came are in (the state decides), a purge is listed as irreversible, a cache clear is not listed.
func TestBuildUndoPlansTheReversalNewestFirst(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fix.jsonl")
	undoJournal(t, path, "fix-1", "fix", undoWrites()...)
	plan, err := BuildUndo(path, "")
	require.NoError(t, err)
	assert.Equal(t, "fix-1", plan.RunID)

	type step struct {
		Seq             int
		Action          Action
		Kind            string
		User, Role, App string
		Uncertain       bool
		Irreversible    bool
		Description     string
	}
	var got []step
	for _, st := range plan.Steps {
		got = append(got, step{st.Seq, st.Action, st.kind, st.userID, st.roleID, st.appID, st.Uncertain, st.Irreversible != "", st.Description})
	}
	lost := " (its answer was lost: the state decides)"
	assert.Equal(t, []step{
		{10, ActPurgeAppUser, "", "", "", "", false, true, "Purge of a soft-deleted application user"},
		{8, ActSetServiceUser, "restore_service_user", "", "", "", false, false, "Point the Work 365 service-user setting back to user u-old"},
		{7, ActRemoveRole, "associate", "u-3", "r-admin", "", true, false, `Give the role "System Administrator" back to user u-3` + lost},
		{6, ActEnableUser, "disable", "u-2", "", "", true, false, `Disable "Pat" again` + lost},
		{5, ActAssignRole, "disassociate", "u-1", "r-portal", "", false, false, `Remove the role "Work 365 Portal Service" again from "# Work 365"`},
		{2, ActCreateAppUser, "disable_created", "u-1", "", undoUSApp, false, false,
			"Disable the application user created for App ID " + undoUSApp + " (created users are disabled, never deleted)"},
	}, got)
}

// A purge is shown and never attempted, even without credentials.
func TestUndoNeverAttemptsAPurge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fix.jsonl")
	undoJournal(t, path, "fix-1", "fix", undoEntry{Record{Tenant: "contoso", Action: ActPurgeAppUser, Method: http.MethodDelete, Path: "systemusers(u-4)"},
		[]Record{{Result: OutcomeApplied, Status: 204}}})
	plan, err := BuildUndo(path, "")
	require.NoError(t, err)
	res, err := Undo(context.Background(), plan, ApplyOptions{})
	require.NoError(t, err)
	require.Len(t, res.Outcomes, 1)
	assert.Equal(t, OutcomeNotApplied, res.Outcomes[0].Status)
	assert.Equal(t, "a purged user cannot be restored; its App ID can be given a new application user", res.Outcomes[0].Reason)
	assert.Zero(t, res.Failed())
}

// BuildUndo reverses the last fix run of a journal by default (undo runs appended to it are not fix runs), or
// the one named; a run the journal does not hold is an error, not an empty plan.
func TestBuildUndoChoosesTheRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fix.jsonl")
	enable := func(user string) undoEntry {
		return undoEntry{Record{Action: ActEnableUser, Method: http.MethodPatch, Path: "systemusers(" + user + ")"}, []Record{{Result: OutcomeApplied}}}
	}
	undoJournal(t, path, "fix-1", "fix", enable("u-1"))
	undoJournal(t, path, "fix-2", "fix", enable("u-2"), enable("u-3"))
	undoJournal(t, path, "undo-1", "undo", undoEntry{Record{Action: "undo_" + ActEnableUser, Method: http.MethodPatch, Path: "systemusers(u-3)"},
		[]Record{{Result: OutcomeApplied}}})
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	undoJournal(t, empty, "fix-3", "fix")
	onlyUndo := filepath.Join(t.TempDir(), "undo.jsonl")
	undoJournal(t, onlyUndo, "undo-1", "undo")

	tests := []struct {
		name, path, run string
		want            string
		users           []string
		err             string
	}{
		{name: "the last fix run by default", path: path, want: "fix-2", users: []string{"u-3", "u-2"}},
		{name: "a named run", path: path, run: "fix-1", want: "fix-1", users: []string{"u-1"}},
		{name: "a run without writes", path: empty, run: "fix-3", want: "fix-3"},
		{name: "an unknown run", path: path, run: "fix-9", err: `holds no run "fix-9"`},
		{name: "no fix run", path: onlyUndo, err: "the journal holds no fix run"},
		{name: "no journal", path: filepath.Join(t.TempDir(), "missing.jsonl"), err: "read journal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, err := BuildUndo(tc.path, tc.run)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, plan.RunID)
			var users []string
			for _, st := range plan.Steps {
				users = append(users, st.userID)
			}
			assert.Equal(t, tc.users, users)
		})
	}
}

// A role the fix removed (with --fix-privileges) is given back, once, unless it is held again.
func TestUndoOfARoleRemoval(t *testing.T) {
	t.Parallel()
	const env = "Contoso Europe"
	tests := []struct {
		name string
		// change is what an administrator does between the fix and its undo.
		change         func(u *undoRig, user, role string)
		status, reason string
		given          int // assignments sent
	}{
		{name: "given back", status: OutcomeApplied, given: 1},
		{name: "held again",
			change: func(u *undoRig, user, role string) {
				u.admin(env, http.MethodPost, "systemusers("+user+")/systemuserroles_association/$ref",
					map[string]any{"@odata.id": u.dv(env).Base() + "roles(" + role + ")"})
			},
			status: OutcomeAlready, reason: "the role is held again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			// A person who still held Work 365 Service after the application user took over (W365.LEGACY.1).
			user := u.srv.UserID(env, "oldsvc")
			role := u.role(env, user, undoServiceRole)
			journal, res := u.fix(env, undoFixOptions{privileges: true})
			require.Zero(t, res.Failed(), "%+v", res.Outcomes)
			require.False(t, u.holds(env, user, undoServiceRole))
			if tc.change != nil {
				tc.change(u, user, role)
			}

			run := u.undo(journal, nil)
			require.NoError(t, run.err)
			o := run.outcome(t, "undo_remove_role", `"Old Service Account"`)
			assert.Equal(t, tc.status, o.Status, o.Reason)
			assert.Equal(t, tc.reason, o.Reason)
			assert.True(t, u.holds(env, user, undoServiceRole))
			given := 0
			for _, w := range run.writes {
				if w.Method == http.MethodPost && strings.Contains(w.Path, "systemusers("+user+")/systemuserroles_association") {
					given++
				}
			}
			assert.Equal(t, tc.given, given, "assignments sent to the user")
			u.assertServiceUserFit(env)
		})
	}
}

// What the journal does not say is not guessed: a disable whose user is not named fails, and one that cannot be
// checked not to stop Work 365 (a journal without the environment's schema) is left to a person.
func TestUndoDoesNotGuessWhatTheJournalDoesNotSay(t *testing.T) {
	t.Parallel()
	const env = "Contoso Finance"
	tests := []struct {
		name, path     string
		schema         *snapshot.Schema
		status, reason string
	}{
		{name: "no schema", path: "systemusers(W365)", status: OutcomeNotApplied,
			reason: `left alone: the journal does not say where "Contoso Finance" keeps its service user, so this cannot be checked not to stop Work 365: do it by hand if # Work 365 is not the service user`},
		{name: "no user", path: "systemusers()", schema: undoSchema, status: OutcomeFailed,
			reason: "the journal does not say which user to disable: disable it by hand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUndoRig(t)
			w365 := u.srv.UserID(env, "w365")
			u.admin(env, http.MethodPatch, "systemusers("+w365+")", map[string]any{"isdisabled": false})
			path := filepath.Join(u.dir, "fix.jsonl")
			undoJournal(t, path, "fix-1", "fix", undoEntry{Record{Tenant: "contoso", EnvironmentID: u.srv.EnvironmentID(env), Environment: env,
				InstanceURL: u.srv.InstanceURL(env), Action: ActEnableUser, Method: http.MethodPatch, Path: strings.ReplaceAll(tc.path, "W365", w365),
				Before: map[string]any{"user_id": w365, "full_name": "# Work 365"}, Schema: tc.schema}, []Record{{Result: OutcomeApplied, Status: 204}}})

			run := u.undo(path, nil)
			require.NoError(t, run.err)
			require.Len(t, run.res.Outcomes, 1)
			assert.Equal(t, tc.status, run.res.Outcomes[0].Status)
			assert.Equal(t, tc.reason, run.res.Outcomes[0].Reason)
			assert.Empty(t, run.writes)
			assert.Equal(t, false, u.user(env, w365)["isdisabled"])
		})
	}
}

// A restore whose settings row is gone fails with what happened; nothing is written. (The emulator cannot delete
// Work 365's settings row, so the journal names a table of the environment that holds no row.)
func TestUndoOfARestoreWithoutSettingsRow(t *testing.T) {
	t.Parallel()
	u := newUndoRig(t)
	const env = "Contoso Europe"
	gone := &snapshot.Schema{EntitySet: "connectionreferences", PrimaryID: "connectionreferenceid", Lookup: "ownerid", Navigation: "ownerid"}
	require.Empty(t, u.srv.Rows(env, gone.EntitySet))
	path := filepath.Join(u.dir, "fix.jsonl")
	undoJournal(t, path, "fix-1", "fix", undoEntry{Record{Tenant: "contoso", EnvironmentID: u.srv.EnvironmentID(env), Environment: env,
		InstanceURL: u.srv.InstanceURL(env), Action: ActSetServiceUser, Method: http.MethodPatch, Path: "connectionreferences(x)",
		Before: settingBefore(gone, &setting{id: "x", userID: u.srv.UserID(env, "oldsvc")}), After: map[string]any{"user_id": u.srv.UserID(env, "w365us")},
		Schema: gone}, []Record{{Result: OutcomeApplied, Status: 204}}})

	run := u.undo(path, nil)
	require.NoError(t, run.err)
	require.Len(t, run.res.Outcomes, 1, "no restore, no cache to clear")
	assert.Equal(t, OutcomeFailed, run.res.Outcomes[0].Status)
	assert.Equal(t, "the Work 365 settings row is gone", run.res.Outcomes[0].Reason)
	assert.Empty(t, run.writes)
	u.assertServiceUserFit(env)
}

// Undo assigns no more than a fix does: System Administrator (removed for least privilege) is not given back,
// and the outcome says to do it by hand if it is still needed.
func TestUndoNeverGivesBackARoleAFixWouldNotAssign(t *testing.T) {
	t.Parallel()
	const env = "Contoso Sandbox"
	u := newUndoRig(t)
	app := u.appUser(env, "e4b1a995-abe3-4350-a61c-65fccd32e8bd")
	require.True(t, u.holds(env, app, "System Administrator"))
	journal, res := u.fix(env, undoFixOptions{privileges: true})
	require.Zero(t, res.Failed(), "%+v", res.Outcomes)
	require.False(t, u.holds(env, app, "System Administrator"), "the fix removed it")

	run := u.undo(journal, nil)
	require.NoError(t, run.err)
	o := run.outcome(t, "undo_remove_role", `"System Administrator"`)
	assert.Equal(t, OutcomeNotApplied, o.Status)
	assert.Equal(t, `left alone: undo assigns no more than a fix does, and audit fix never assigns "System Administrator": it would give full control of the environment; assign it by hand if you really mean to`, o.Reason)
	assert.False(t, u.holds(env, app, "System Administrator"))
	for _, w := range run.writes {
		assert.NotEqual(t, http.MethodPost, w.Method, "no role is assigned: %s", w.Path)
	}
	u.assertServiceUserFit(env)
}
