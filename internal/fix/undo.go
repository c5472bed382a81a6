package fix

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/work365/audit/internal/api"
)

// UndoStep reverses one journaled write.
type UndoStep struct {
	Seq           int    `json:"seq"` // the write it reverses
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Environment   string `json:"environment"`
	InstanceURL   string `json:"instance_url"`
	Action        string `json:"action"` // the original action
	Description   string `json:"description"`
	// Irreversible is why the write cannot be undone (a purge); such steps are shown, never attempted.
	Irreversible string `json:"irreversible,omitempty"`

	kind   string // what the reversal does
	appID  string
	userID string
	roleID string
	before map[string]any
	path   string
}

// UndoPlan is the reversal of one fix run, newest write first.
type UndoPlan struct {
	RunID string     `json:"run_id"`
	Steps []UndoStep `json:"steps"`
}

// BuildUndo reads a journal and plans the reversal of the reversible writes of one run (the last one by
// default): role assignments, the service-user setting, enable/disable. Created users are disabled, never
// deleted. Writes whose answer was not recorded (a run killed mid-write) are included: the reversal re-reads
// the state and does nothing where the write did not land.
func BuildUndo(path, runID string) (*UndoPlan, error) {
	id, entries, err := ReadJournal(path, runID)
	if err != nil {
		return nil, err
	}
	plan := &UndoPlan{RunID: id}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		in := e.Intent
		if e.Outcome != nil && e.Outcome.Result != OutcomeApplied {
			continue // refused by the service: nothing to reverse
		}
		st := UndoStep{Seq: in.Seq, Tenant: in.Tenant, EnvironmentID: in.EnvironmentID, Environment: in.Environment,
			InstanceURL: in.InstanceURL, Action: in.Action, before: in.Before, path: in.Path}
		switch {
		case in.Action == ActAssignRole && in.Method == http.MethodPost:
			st.kind, st.userID, st.roleID = "disassociate", userFromPath(in.Path), beforeString(in.Before, "role_id")
			st.Description = fmt.Sprintf("Remove the role %q again from %s", paramString(in.Params, "role"), beforeName(in.Before))
		case in.Action == ActRemoveRole && in.Method == http.MethodDelete:
			st.kind, st.userID, st.roleID = "associate", userFromPath(in.Path), beforeString(in.Before, "role_id")
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
		case in.Action == ActClearCache:
			continue // nothing to reverse; the cache is cleared again after restoring the service user
		default:
			continue
		}
		plan.Steps = append(plan.Steps, st)
	}
	return plan, nil
}

// Undo applies an undo plan with the same journal, confirmation and re-check rules as a fix.
func Undo(ctx context.Context, plan *UndoPlan, opts ApplyOptions) (*Result, error) {
	res := &Result{Touched: map[string][]string{}}
	touched := map[string]bool{}
	restoredService := map[string]*envRun{}
	for _, st := range plan.Steps {
		ep := &EnvPlan{Tenant: st.Tenant, EnvironmentID: st.EnvironmentID, Name: st.Environment, InstanceURL: st.InstanceURL}
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
		r := &envRun{a: &applier{opts: opts, res: res}, ep: ep, dv: dv}
		status, reason, err := r.reverse(ctx, st, step)
		if err != nil {
			status, reason = OutcomeFailed, explain(step, err)
		}
		out.Status, out.Reason = status, reason
		res.Outcomes = append(res.Outcomes, out)
		if status == OutcomeApplied {
			if !touched[st.EnvironmentID] {
				touched[st.EnvironmentID] = true
				res.Touched[st.Tenant] = append(res.Touched[st.Tenant], st.EnvironmentID)
			}
			if st.kind == "restore_service_user" {
				restoredService[st.EnvironmentID] = r
			}
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	// The cache still holds the service user just replaced: clear it, as after any change of service user.
	for _, r := range restoredService {
		step := Step{Action: ActClearCache, Params: map[string]any{"action": ActClearCache}, Description: "Clear the Work 365 cache"}
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

// reverse undoes one write after re-reading the state it would change.
func (r *envRun) reverse(ctx context.Context, st UndoStep, step Step) (string, string, error) {
	wrote := func(_ *api.Response, err error) (string, string, error) {
		if err != nil {
			return "", "", err
		}
		return OutcomeApplied, "", nil
	}
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
		if st.kind == "disassociate" {
			if !held {
				return OutcomeAlready, "the role is not held (the assignment did not land or was already removed)", nil
			}
			return wrote(r.write(ctx, step, http.MethodDelete, "systemusers("+u.ID+")/systemuserroles_association("+st.roleID+")/$ref", nil, u.state(), nil))
		}
		if held {
			return OutcomeAlready, "the role is held again", nil
		}
		body := map[string]any{"@odata.id": r.dv.Base() + "roles(" + st.roleID + ")"}
		return wrote(r.write(ctx, step, http.MethodPost, "systemusers("+u.ID+")/systemuserroles_association/$ref", body, u.state(), nil))
	case "disable", "disable_created":
		if st.userID == "" {
			return "", "", fmt.Errorf("the journal does not say which user was created (the run stopped before the answer): disable the application user of App ID %s by hand", st.appID)
		}
		u, err := user(ctx, r.dv, st.userID)
		if err != nil {
			return "", "", err
		}
		if u == nil || u.IsDisabled {
			return OutcomeAlready, "the user is disabled", nil
		}
		return wrote(r.write(ctx, step, http.MethodPatch, "systemusers("+u.ID+")", map[string]any{"isdisabled": true}, u.state(), nil))
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
		before := settingBefore(s, cur)
		if prev == "" {
			return wrote(r.write(ctx, step, http.MethodDelete, s.EntitySet+"("+cur.id+")/"+s.Navigation+"/$ref", nil, before, nil))
		}
		body := map[string]any{s.Navigation + "@odata.bind": "/systemusers(" + prev + ")"}
		return wrote(r.write(ctx, step, http.MethodPatch, s.EntitySet+"("+cur.id+")", body, before, nil))
	}
	return "", "", fmt.Errorf("cannot undo %s", st.Action)
}

func userFromPath(p string) string {
	i := strings.Index(p, "systemusers(")
	if i < 0 {
		return ""
	}
	rest := p[i+len("systemusers("):]
	if j := strings.IndexByte(rest, ')'); j >= 0 {
		return rest[:j]
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
