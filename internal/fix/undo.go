package fix

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// UndoStep reverses one journaled write.
type UndoStep struct {
	Seq           int    `json:"seq"` // the write it reverses
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Environment   string `json:"environment"`
	InstanceURL   string `json:"instance_url"`
	Action        Action `json:"action"` // the original action
	Description   string `json:"description"`
	// Irreversible is why the write cannot be undone (a purge); such steps are shown, never attempted.
	Irreversible string `json:"irreversible,omitempty"`
	// Uncertain is set when the write's answer was lost (or the run stopped before it): it may not have landed,
	// and the state decides.
	Uncertain bool `json:"uncertain,omitempty"`

	kind   string // what the reversal does
	appID  string
	userID string
	roleID string
	role   string // the name of a role to give back
	before map[string]any
	after  map[string]any
	schema *snapshot.Schema
	at     time.Time // when the write was journaled
}

// UndoPlan is the reversal of one fix run, newest write first.
type UndoPlan struct {
	RunID string     `json:"run_id"`
	Steps []UndoStep `json:"steps"`
}

// BuildUndo reads a journal and plans the reversal of the reversible writes of one run (the last one by
// default), newest first: role assignments, the service-user setting, enable/disable. Created users are
// disabled, never deleted. Writes refused by the service are left out; writes whose answer was lost (unknown) or
// never came (a run killed mid-write) are included as possibly applied: each reversal reads the state first and
// does nothing where the write did not land.
func BuildUndo(path, runID string) (*UndoPlan, error) {
	id, entries, err := ReadJournal(path, runID)
	if err != nil {
		return nil, err
	}
	if runID != "" && len(entries) == 0 {
		// ReadJournal finds no writes for a run the journal does not hold either: a mistyped run ID must not
		// read as a run with nothing to undo.
		held, err := journalHoldsRun(path, runID)
		if err != nil {
			return nil, err
		}
		if !held {
			return nil, fmt.Errorf("the journal %s holds no run %q", path, runID)
		}
	}
	plan := &UndoPlan{RunID: id}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		in := e.Intent
		if e.Outcome != nil && e.Outcome.Result == OutcomeFailed {
			continue // refused by the service, or read back as not landed: nothing to reverse
		}
		st := UndoStep{Seq: in.Seq, Tenant: in.Tenant, EnvironmentID: in.EnvironmentID, Environment: in.Environment,
			InstanceURL: in.InstanceURL, Action: in.Action, before: in.Before, after: in.After, schema: in.Schema, at: in.Time,
			Uncertain: e.Outcome == nil || e.Outcome.Result == OutcomeUnknown}
		switch {
		case in.Action == ActAssignRole && in.Method == http.MethodPost:
			st.kind, st.userID, st.roleID = "disassociate", userFromPath(in.Path), beforeString(in.Before, "role_id")
			st.Description = fmt.Sprintf("Remove the role %q again from %s", paramString(in.Params, "role"), beforeName(in.Before))
		case in.Action == ActRemoveRole && in.Method == http.MethodDelete:
			st.kind, st.userID, st.roleID, st.role = "associate", userFromPath(in.Path), beforeString(in.Before, "role_id"), paramString(in.Params, "role")
			st.Description = fmt.Sprintf("Give the role %q back to %s", paramString(in.Params, "role"), beforeName(in.Before))
		case in.Action == ActEnableUser && in.Method == http.MethodPatch:
			st.kind, st.userID = "disable", userFromPath(in.Path)
			st.Description = fmt.Sprintf("Disable %s again", beforeName(in.Before))
		case in.Action == ActSetServiceUser && in.Method == http.MethodPatch:
			st.kind = "restore_service_user"
			prev := beforeString(in.Before, "user_id")
			if prev == "" {
				st.Description = "Clear the Work 365 service-user setting again (it was empty)"
			} else {
				st.Description = fmt.Sprintf("Point the Work 365 service-user setting back to user %s", prev)
			}
		case in.Action == ActCreateAppUser && in.Method == http.MethodPost:
			st.kind, st.appID = "disable_created", paramString(in.Params, "app_id")
			if e.Outcome != nil {
				st.userID = e.Outcome.CreatedID
			}
			st.Description = fmt.Sprintf("Disable the application user created for App ID %s (created users are disabled, never deleted)", paramString(in.Params, "app_id"))
		case in.Action == ActPurgeAppUser:
			st.Irreversible = "a purged user cannot be restored; its App ID can be given a new application user"
			st.Description = "Purge of a soft-deleted application user"
		default:
			continue // clear_cache: nothing to reverse; the cache is cleared again after restoring the service user
		}
		if st.Uncertain {
			st.Description += " (its answer was lost: the state decides)"
		}
		plan.Steps = append(plan.Steps, st)
	}
	return plan, nil
}

// journalHoldsRun reports whether a journal has the run record of runID.
func journalHoldsRun(path, runID string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Phase == PhaseRun && r.RunID == runID {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read journal: %w", err)
	}
	return false, nil
}

// Undo applies an undo plan with the same journal, confirmation and re-check rules as a fix. A reversal is
// made only while the state still holds what the fix wrote (someone's later change is left alone and reported),
// and never leaves Work 365 running as a disabled user or one without Work 365 Service.
func Undo(ctx context.Context, plan *UndoPlan, opts ApplyOptions) (*Result, error) {
	if opts.MaxWriteAttempts <= 0 {
		opts.MaxWriteAttempts = 4
	}
	if opts.Sleep == nil {
		opts.Sleep = api.SleepContext
	}
	res := &Result{Touched: map[string][]string{}}
	a := &applier{opts: opts, res: res}
	touched := map[string]bool{}
	restoredService := map[string]*envRun{}
	for _, st := range plan.Steps {
		ep := &EnvPlan{Tenant: st.Tenant, EnvironmentID: st.EnvironmentID, Name: st.Environment, InstanceURL: st.InstanceURL, Schema: st.schema}
		step := Step{Action: "undo_" + st.Action, Params: map[string]any{"undoes": st.Seq}, Description: st.Description}
		out := Outcome{Tenant: st.Tenant, EnvironmentID: st.EnvironmentID, Environment: st.Environment, Step: step}
		if st.Irreversible != "" {
			out.Status, out.Reason = OutcomeNotApplied, st.Irreversible
			res.Outcomes = append(res.Outcomes, out)
			continue
		}
		client := opts.Clients[st.Tenant]
		if client == nil {
			out.Status, out.Reason = OutcomeFailed, "no credentials for tenant "+st.Tenant
			res.Outcomes = append(res.Outcomes, out)
			continue
		}
		dv, err := api.NewDataverse(client, st.InstanceURL, opts.PageSize)
		if err != nil {
			return res, err
		}
		r := &envRun{a: a, ep: ep, dv: dv}
		status, reason, err := r.reverse(ctx, st, step)
		var unknown *errUnknown
		switch {
		case errors.As(err, &unknown):
			status, reason = OutcomeUnknown, explain(step, err)
		case err != nil:
			status, reason = OutcomeFailed, explain(step, err)
		}
		out.Status, out.Reason = status, reason
		res.Outcomes = append(res.Outcomes, out)
		if status == OutcomeApplied {
			if !touched[st.EnvironmentID] {
				touched[st.EnvironmentID] = true
				res.Touched[st.Tenant] = append(res.Touched[st.Tenant], st.EnvironmentID)
			}
		}
		// A restore whose answer was lost may have landed: the cache is cleared after it too (clearing it twice
		// does no harm, and an undo run again finds the setting restored and would not clear it).
		if st.kind == "restore_service_user" && (status == OutcomeApplied || status == OutcomeUnknown) {
			restoredService[st.EnvironmentID] = r
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	// The cache still holds the service user just replaced: clear it, as after any change of service user.
	for _, r := range restoredService {
		step := Step{Action: ActClearCache, Params: map[string]any{"action": string(ActClearCache)}, Description: "Clear the Work 365 cache"}
		r.wrote = true
		status, reason, err := r.step(ctx, step)
		if err != nil {
			status, reason = OutcomeFailed, explain(step, err)
		}
		res.Outcomes = append(res.Outcomes, Outcome{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Environment: r.ep.Name,
			Step: step, Status: status, Reason: reason})
	}
	return res, ctx.Err()
}

// leftAlone is the outcome of a reversal that the state says not to make.
func leftAlone(format string, args ...any) (string, string, error) {
	return OutcomeNotApplied, "left alone: " + fmt.Sprintf(format, args...), nil
}

// reverse undoes one write after re-reading the state it would change.
func (r *envRun) reverse(ctx context.Context, st UndoStep, step Step) (string, string, error) {
	switch st.kind {
	case "disassociate", "associate":
		u, err := user(ctx, r.dv, st.userID)
		if err != nil {
			return "", "", err
		}
		if u == nil {
			return OutcomeAlready, "the user no longer exists", nil
		}
		held := u.holds(st.roleID)
		landed := func(want bool) func(context.Context) (bool, error) {
			return func(ctx context.Context) (bool, error) {
				now, err := user(ctx, r.dv, u.ID)
				return now != nil && now.holds(st.roleID) == want, err
			}
		}
		if st.kind == "disassociate" {
			if !held {
				return OutcomeAlready, "the role is not held (the assignment did not land or was removed since)", nil
			}
			if why, err := r.keepsServiceUserFit(ctx, u, st); err != nil || why != "" {
				if err != nil {
					return "", "", err
				}
				return leftAlone("%s", why)
			}
			return wrote(r.write(ctx, step, writeCall{method: http.MethodDelete,
				path: "systemusers(" + u.ID + ")/systemuserroles_association(" + st.roleID + ")/$ref", before: u.state(), landed: landed(false)}))
		}
		if held {
			return OutcomeAlready, "the role is held again", nil
		}
		// Undo assigns no more than a fix does: only the Work 365 roles, never System Administrator or System
		// Customizer. Another role a fix removed (least privilege) is given back by a person, if at all.
		if ok, why := r.a.opts.Roles.allowed(st.role); !ok {
			return leftAlone("undo assigns no more than a fix does, and %s", why)
		}
		return wrote(r.write(ctx, step, writeCall{method: http.MethodPost, path: "systemusers(" + u.ID + ")/systemuserroles_association/$ref",
			body: map[string]any{"@odata.id": r.dv.Base() + "roles(" + st.roleID + ")"}, before: u.state(), landed: landed(true)}))

	case "disable", "disable_created":
		u, err := r.createdOrEnabled(ctx, st)
		if err != nil || u == nil {
			if err != nil {
				return "", "", err
			}
			// A user the journal names was deleted since; only a create without a journaled ID may not have landed.
			if st.userID != "" {
				return OutcomeAlready, "the user no longer exists", nil
			}
			return OutcomeAlready, "no application user of App ID " + st.appID + " was created by that run (the create did not land)", nil
		}
		if u.IsDisabled {
			return OutcomeAlready, "the user is disabled", nil
		}
		if why, err := r.keepsServiceUserFit(ctx, u, st); err != nil || why != "" {
			if err != nil {
				return "", "", err
			}
			return leftAlone("%s", why)
		}
		return wrote(r.write(ctx, step, writeCall{method: http.MethodPatch, path: "systemusers(" + u.ID + ")",
			body: map[string]any{"isdisabled": true}, before: u.state(),
			landed: func(ctx context.Context) (bool, error) {
				now, err := user(ctx, r.dv, u.ID)
				return now == nil || now.IsDisabled, err
			}}))

	case "restore_service_user":
		s := schemaFrom(st.before)
		if s == nil {
			return "", "", fmt.Errorf("the journal was written by an earlier version of audit and does not say through which names the setting was written: point the service user back by hand (Work 365 → Admin Hub → Administration → Change Service User, then Clear Cache)")
		}
		cur, err := readSetting(ctx, r.dv, s)
		if err != nil {
			return "", "", err
		}
		if cur == nil || cur.id == "" {
			return "", "", fmt.Errorf("the Work 365 settings row is gone")
		}
		prev := beforeString(st.before, "user_id")
		if strings.EqualFold(cur.userID, prev) {
			return OutcomeAlready, "the setting already points where it did before the fix", nil
		}
		// Only while the setting still holds what the fix wrote: a later change by someone else is theirs.
		if wrote := beforeString(st.after, "user_id"); wrote != "" && !strings.EqualFold(cur.userID, wrote) {
			return leftAlone("the service user was changed again after the fix (it points to %s now, not to %s, which the fix set)", orNone(cur.userID), wrote)
		}
		if prev != "" {
			// Never point Work 365 back at a user it cannot run as.
			pu, err := user(ctx, r.dv, prev)
			if err != nil {
				return "", "", err
			}
			if pu == nil {
				return leftAlone("the previous service user %s no longer exists", prev)
			}
			if why, err := r.unfitServiceUser(ctx, pu); err != nil || why != "" {
				if err != nil {
					return "", "", err
				}
				return leftAlone("the previous service user cannot run Work 365: %s", why)
			}
		}
		landed := func(ctx context.Context) (bool, error) {
			now, err := readSetting(ctx, r.dv, s)
			return now != nil && strings.EqualFold(now.userID, prev), err
		}
		before := settingBefore(s, cur)
		if prev == "" {
			return wrote(r.write(ctx, step, writeCall{method: http.MethodDelete, path: s.EntitySet + "(" + cur.id + ")/" + s.Navigation + "/$ref",
				before: before, landed: landed}))
		}
		return wrote(r.write(ctx, step, writeCall{method: http.MethodPatch, path: s.EntitySet + "(" + cur.id + ")",
			body: map[string]any{s.Navigation + "@odata.bind": "/systemusers(" + prev + ")"}, before: before, landed: landed}))
	}
	return "", "", fmt.Errorf("cannot undo %s", st.Action)
}

// createdOrEnabled finds the user a disable reverses: the one journaled; for a create whose answer was lost, the
// live application user of its App ID created at or after the write (nil when there is none).
func (r *envRun) createdOrEnabled(ctx context.Context, st UndoStep) (*liveUser, error) {
	if st.userID != "" {
		u, err := user(ctx, r.dv, st.userID)
		if err != nil || u == nil {
			return nil, err
		}
		return u, nil
	}
	if st.kind != "disable_created" || st.appID == "" {
		return nil, fmt.Errorf("the journal does not say which user to disable: disable it by hand")
	}
	live, _, err := appUsers(ctx, r.dv, st.appID)
	if err != nil || live == nil {
		return nil, err
	}
	created, perr := time.Parse(time.RFC3339, live.CreatedOn)
	if perr != nil || created.Before(st.at.Add(-time.Minute)) {
		// It existed before the write (the fix found none, so someone else made it since, or the clocks are far
		// apart): not the fix's to disable.
		return nil, nil
	}
	return live, nil
}

// keepsServiceUserFit says why a reversal would leave Work 365 without a fit service user: the user to disable,
// or to lose Work 365 Service, is what Work 365 runs as now.
func (r *envRun) keepsServiceUserFit(ctx context.Context, u *liveUser, st UndoStep) (string, error) {
	if st.kind == "disassociate" {
		var name string
		for _, role := range u.Roles {
			if strings.EqualFold(role.ID, st.roleID) {
				name = role.Name
			}
		}
		if !strings.EqualFold(name, r.a.opts.Roles.Service) {
			return "", nil
		}
	}
	if r.ep.Schema == nil {
		return fmt.Sprintf("the journal does not say where %q keeps its service user, so this cannot be checked not to stop Work 365: do it by hand if %s is not the service user", r.ep.Name, orNone(u.FullName)), nil
	}
	su, err := r.serviceUser(ctx)
	if err != nil || su == nil || !strings.EqualFold(su.ID, u.ID) {
		return "", err
	}
	return fmt.Sprintf("%q is the Work 365 service user now; undoing this would stop Work 365 (point the service user elsewhere first)", u.FullName), nil
}

func orNone(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

var systemUserPath = regexp.MustCompile(`systemusers\(([^)]*)\)`)

func userFromPath(p string) string {
	if m := systemUserPath.FindStringSubmatch(p); m != nil {
		return m[1]
	}
	return ""
}

func beforeString(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func beforeName(m map[string]any) string {
	if n := beforeString(m, "full_name"); n != "" {
		return fmt.Sprintf("%q", n)
	}
	return "user " + beforeString(m, "user_id")
}

func paramString(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
