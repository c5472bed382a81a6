package fix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/work365/audit/internal/api"
)

// Outcome statuses of a step after a run.
const (
	OutcomeApplied    = "applied"
	OutcomeAlready    = "already_compliant"
	OutcomeManual     = "manual"
	OutcomeHeldBack   = "held_back"
	OutcomeFailed     = "failed"
	OutcomeNotApplied = "not_applied"
)

// Outcome is what became of one step.
type Outcome struct {
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Environment   string `json:"environment"`
	Step          Step   `json:"step"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
}

// Settings name what of Work 365 is configuration rather than per-environment schema (which each EnvPlan
// carries, as collected).
type Settings struct {
	ClearCacheAction string // unbound action, e.g. w365_ClearCache
}

// ApplyOptions say how to apply a plan.
type ApplyOptions struct {
	Clients  map[string]*api.Client // by tenant name
	Settings Settings
	Journal  *Journal
	// Concurrency bounds the environments changed at once; writes within an environment keep their order.
	Concurrency int
	PageSize    int
	// VerifySandboxes re-reads and re-evaluates sandboxes changed in this run and returns the names of those that
	// now pass the critical rules. It decides whether conditional production environments are changed.
	VerifySandboxes func(ctx context.Context, tenant string, envIDs []string) ([]string, error)
	// MaxWriteAttempts bounds how often a write refused with 429 is re-checked and sent again.
	MaxWriteAttempts int
	Sleep            func(ctx context.Context, d time.Duration) error
	// Progress, when set, is told of every outcome as it happens.
	Progress func(Outcome)
	// beforeWrite is called before each write is sent; an error stops the run there (tests simulate a kill).
	beforeWrite func(seq int) error
}

// Result is the outcome of every step of a run, and which environments were changed.
type Result struct {
	Outcomes []Outcome           `json:"outcomes"`
	Touched  map[string][]string `json:"-"` // tenant → IDs of environments that had at least one write
}

// Failed counts the failed steps.
func (r *Result) Failed() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Status == OutcomeFailed {
			n++
		}
	}
	return n
}

// Apply runs the plan: environments that are not production first, then, per tenant, the production
// environments whose gate is open or — for conditional ones — whose sandbox passes after its own fixes.
func Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*Result, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.MaxWriteAttempts <= 0 {
		opts.MaxWriteAttempts = 4
	}
	if opts.Sleep == nil {
		opts.Sleep = api.SleepContext
	}
	a := &applier{opts: opts, res: &Result{Touched: map[string][]string{}}}
	var first, production []*EnvPlan
	for i := range plan.Environments {
		ep := &plan.Environments[i]
		a.record(ep, ep.Manual, OutcomeManual, "")
		for _, st := range ep.NotApplied {
			a.add(ep, st, OutcomeNotApplied, st.Reason)
		}
		switch {
		case ep.Blocked != "" || len(ep.Steps) == 0:
		case ep.Gate == GateClosed:
			a.record(ep, ep.Steps, OutcomeHeldBack, ep.GateReason)
		case ep.Production:
			production = append(production, ep)
		default:
			first = append(first, ep)
		}
	}
	a.runAll(ctx, first)
	if err := ctx.Err(); err != nil {
		return a.res, err
	}

	// Sandbox first: a conditional production environment goes ahead only when a sandbox of its tenant that
	// was fixed in this run now passes the critical rules.
	passed := map[string][]string{}
	var ready []*EnvPlan
	for _, ep := range production {
		if ep.Gate == GateOpen {
			ready = append(ready, ep)
			continue
		}
		names, ok := passed[ep.Tenant]
		if !ok {
			names = a.verify(ctx, ep.Tenant, first)
			passed[ep.Tenant] = names
		}
		if len(names) > 0 {
			ready = append(ready, ep)
			continue
		}
		a.record(ep, ep.Steps, OutcomeHeldBack, fmt.Sprintf("production; held back because no sandbox of tenant %q passes the critical rules after this run's fixes: check the sandbox's results, or re-run with --allow-production", ep.Tenant))
	}
	a.runAll(ctx, ready)
	sortOutcomes(a.res.Outcomes)
	return a.res, ctx.Err()
}

type applier struct {
	opts ApplyOptions
	mu   sync.Mutex
	res  *Result
}

func (a *applier) add(ep *EnvPlan, st Step, status, reason string) {
	o := Outcome{Tenant: ep.Tenant, EnvironmentID: ep.EnvironmentID, Environment: ep.Name, Step: st, Status: status, Reason: reason}
	a.mu.Lock()
	a.res.Outcomes = append(a.res.Outcomes, o)
	a.mu.Unlock()
	if a.opts.Progress != nil {
		a.opts.Progress(o)
	}
}

func (a *applier) record(ep *EnvPlan, steps []Step, status, reason string) {
	for _, st := range steps {
		a.add(ep, st, status, reason)
	}
}

func (a *applier) verify(ctx context.Context, tenant string, changed []*EnvPlan) []string {
	var ids []string
	for _, ep := range changed {
		if ep.Tenant == tenant && ep.Sandbox {
			ids = append(ids, ep.EnvironmentID)
		}
	}
	if len(ids) == 0 || a.opts.VerifySandboxes == nil {
		return nil
	}
	names, err := a.opts.VerifySandboxes(ctx, tenant, ids)
	if err != nil {
		return nil
	}
	return names
}

// runAll changes environments concurrently under the bound; each environment's steps run in order.
func (a *applier) runAll(ctx context.Context, envs []*EnvPlan) {
	sem := make(chan struct{}, a.opts.Concurrency)
	var wg sync.WaitGroup
	for _, ep := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				a.record(ep, ep.Steps, OutcomeFailed, "not attempted: the run was interrupted")
				return
			}
			defer func() { <-sem }()
			a.runEnv(ctx, ep)
		}()
	}
	wg.Wait()
}

// envRun is one environment being changed.
type envRun struct {
	a     *applier
	ep    *EnvPlan
	dv    *api.Dataverse
	wrote bool
}

func (a *applier) runEnv(ctx context.Context, ep *EnvPlan) {
	client := a.opts.Clients[ep.Tenant]
	if client == nil {
		a.record(ep, ep.Steps, OutcomeFailed, "no credentials for tenant "+ep.Tenant)
		return
	}
	dv, err := api.NewDataverse(client, ep.InstanceURL, a.opts.PageSize)
	if err != nil {
		a.record(ep, ep.Steps, OutcomeFailed, err.Error())
		return
	}
	r := &envRun{a: a, ep: ep, dv: dv}
	for i, st := range ep.Steps {
		if err := ctx.Err(); err != nil {
			a.record(ep, ep.Steps[i:], OutcomeFailed, "not attempted: the run was interrupted")
			return
		}
		status, reason, err := r.step(ctx, st)
		if err != nil {
			a.add(ep, st, OutcomeFailed, explain(st, err))
			rest := ep.Steps[i+1:]
			a.record(ep, rest, OutcomeFailed, fmt.Sprintf("not attempted: step %d (%s) failed in this environment", i+1, st.Action))
			break
		}
		a.add(ep, st, status, reason)
	}
	if r.wrote {
		a.mu.Lock()
		a.res.Touched[ep.Tenant] = append(a.res.Touched[ep.Tenant], ep.EnvironmentID)
		a.mu.Unlock()
	}
}

// errAlready reports, from inside a write's re-check, that the state is already what the step wants.
var errAlready = errors.New("already compliant")

// write journals and sends one write. A 429 waits Retry-After, re-checks the state, and only then sends the
// write again; nothing else is retried, because a write that may have landed must not land twice.
func (r *envRun) write(ctx context.Context, st Step, method, path string, body any, before map[string]any,
	recheck func(context.Context) (bool, error)) (*api.Response, error) {
	j := r.a.opts.Journal
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		intent := Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Environment: r.ep.Name, InstanceURL: r.ep.InstanceURL,
			Action: st.Action, Params: st.Params, Method: method, Path: path, Body: body, Before: before}
		seq, err := j.Intent(intent)
		if err != nil {
			return nil, err
		}
		if r.a.opts.beforeWrite != nil {
			if err := r.a.opts.beforeWrite(seq); err != nil {
				return nil, err
			}
		}
		resp, err := r.dv.Write(ctx, method, path, body, nil)
		out := Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Action: st.Action, Method: method, Path: path}
		if err != nil {
			out.Result, out.Error, out.Status = OutcomeFailed, err.Error(), api.StatusOf(err)
		} else {
			out.Result, out.Status = OutcomeApplied, resp.Status
			if id := api.EntityIDFromHeader(resp.Header); id != "" && method == http.MethodPost && !strings.HasSuffix(path, "$ref") {
				out.CreatedID = id
			}
		}
		jerr := j.Outcome(seq, out)
		if err == nil {
			if st.Action != ActClearCache {
				r.wrote = true
			}
			return resp, jerr
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || attempt >= r.a.opts.MaxWriteAttempts {
			return nil, err
		}
		// The same bounds as reads: a Retry-After above the ceiling, or beyond the request's budget, ends the
		// step with an error that names the wait.
		wait, werr := r.dv.RetryWait(ctx, err, attempt, waited)
		if werr != nil {
			return nil, werr
		}
		waited += wait
		if err := r.a.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		if recheck != nil {
			done, err := recheck(ctx)
			if err != nil {
				return nil, err
			}
			if done {
				return nil, errAlready
			}
		}
	}
}

// step applies one step: it reads the state, skips what is already true, and writes what is not.
func (r *envRun) step(ctx context.Context, st Step) (status, reason string, err error) {
	p := st.Params
	wrote := func(_ *api.Response, err error) (string, string, error) {
		if errors.Is(err, errAlready) {
			return OutcomeAlready, "already true when re-checked after throttling", nil
		}
		if err != nil {
			return "", "", err
		}
		return OutcomeApplied, "", nil
	}
	switch st.Action {
	case ActCreateAppUser:
		check := func(ctx context.Context) (bool, error) {
			live, _, err := appUsers(ctx, r.dv, appID(p))
			return live != nil, err
		}
		live, deleted, err := appUsers(ctx, r.dv, appID(p))
		if err != nil {
			return "", "", err
		}
		if live != nil {
			return OutcomeAlready, fmt.Sprintf("the application user %q already exists", live.FullName), nil
		}
		if deleted != nil {
			return "", "", fmt.Errorf("a soft-deleted application user for App ID %s (%s) blocks creating a new one: re-run with --purge-deleted to purge and re-create it", appID(p), deleted.ID)
		}
		bu := str(p, "business_unit_id")
		if bu == "" {
			if bu, err = rootUnit(ctx, r.dv); err != nil {
				return "", "", err
			}
		}
		body := map[string]any{"applicationid": appID(p), "accessmode": 4, "isdisabled": false,
			"businessunitid@odata.bind": "/businessunits(" + bu + ")"}
		return wrote(r.write(ctx, st, http.MethodPost, "systemusers", body, map[string]any{"application_user": nil}, check))

	case ActEnableUser:
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		if !u.IsDisabled {
			return OutcomeAlready, fmt.Sprintf("%q is enabled", u.FullName), nil
		}
		check := func(ctx context.Context) (bool, error) {
			now, err := user(ctx, r.dv, u.ID)
			return now != nil && !now.IsDisabled, err
		}
		return wrote(r.write(ctx, st, http.MethodPatch, "systemusers("+u.ID+")", map[string]any{"isdisabled": false}, u.state(), check))

	case ActAssignRole:
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		role, err := roleInUnit(ctx, r.dv, str(p, "role"), u.BusinessUnitID)
		if err != nil {
			return "", "", err
		}
		if role == nil {
			return "", "", fmt.Errorf("the role %q does not exist in the business unit of %q (%s): check that Work 365 and its security roles are installed completely; audit does not guess another role",
				str(p, "role"), u.FullName, u.BusinessUnitID)
		}
		if u.IsDisabled && !u.holds(role.ID) {
			// Dataverse refuses security roles to disabled users unless the organization allows it
			// (allowRoleAssignmentOnDisabledUsers): the user is enabled first, by its own step.
			return "", "", fmt.Errorf("%q is disabled, and Dataverse does not assign security roles to disabled users: enable it first (W365.APPUSER.3 plans that step; run audit fix without --rule, or with --rule W365.APPUSER.3 too)", u.FullName)
		}
		if u.holds(role.ID) {
			return OutcomeAlready, fmt.Sprintf("%q already holds %q", u.FullName, role.Name), nil
		}
		check := func(ctx context.Context) (bool, error) {
			now, err := user(ctx, r.dv, u.ID)
			return now != nil && now.holds(role.ID), err
		}
		body := map[string]any{"@odata.id": r.dv.Base() + "roles(" + role.ID + ")"}
		before := u.state()
		before["role_id"] = role.ID
		return wrote(r.write(ctx, st, http.MethodPost, "systemusers("+u.ID+")/systemuserroles_association/$ref", body, before, check))

	case ActRemoveRole:
		u, err := user(ctx, r.dv, str(p, "user_id"))
		if err != nil {
			return "", "", err
		}
		roleID := str(p, "role_id")
		if u == nil || !u.holds(roleID) {
			return OutcomeAlready, fmt.Sprintf("the role %q is no longer held", str(p, "role")), nil
		}
		check := func(ctx context.Context) (bool, error) {
			now, err := user(ctx, r.dv, u.ID)
			return now == nil || !now.holds(roleID), err
		}
		before := u.state()
		before["role_id"] = roleID
		return wrote(r.write(ctx, st, http.MethodDelete, "systemusers("+u.ID+")/systemuserroles_association("+roleID+")/$ref", nil, before, check))

	case ActSetServiceUser:
		u, err := r.userOf(ctx, p)
		if err != nil {
			return "", "", err
		}
		schema := r.ep.Schema
		if schema == nil || schema.EntitySet == "" || schema.Navigation == "" {
			return "", "", fmt.Errorf("where this environment keeps Work 365's service user was not read: run audit scan to see why, then audit fix again")
		}
		cur, err := readSetting(ctx, r.dv, schema)
		if err != nil {
			return "", "", err
		}
		if cur == nil || cur.id == "" {
			return "", "", fmt.Errorf("Work 365 has no settings row in %s: open Work 365 → Admin Hub once so that it creates it, then run audit fix again", schema.EntitySet)
		}
		if strings.EqualFold(cur.userID, u.ID) {
			return OutcomeAlready, fmt.Sprintf("the service user is already %q", u.FullName), nil
		}
		check := func(ctx context.Context) (bool, error) {
			now, err := readSetting(ctx, r.dv, schema)
			return now != nil && strings.EqualFold(now.userID, u.ID), err
		}
		// The write binds through the lookup's navigation property (case-sensitive); reads use _<lookup>_value.
		body := map[string]any{schema.Navigation + "@odata.bind": "/systemusers(" + u.ID + ")"}
		return wrote(r.write(ctx, st, http.MethodPatch, schema.EntitySet+"("+cur.id+")", body, settingBefore(schema, cur), check))

	case ActClearCache:
		if !r.wrote {
			return OutcomeAlready, "nothing changed in this environment in this run, so the cache holds no stale service user", nil
		}
		name := r.a.opts.Settings.ClearCacheAction
		_, err := r.write(ctx, st, http.MethodPost, name, map[string]any{}, nil, nil)
		if api.IsNotFound(err) {
			return OutcomeManual, fmt.Sprintf("the environment has no %s action: in Dynamics 365 for %q open Work 365 → Admin Hub → Administration → Clear Cache", name, r.ep.Name), nil
		}
		if err != nil {
			return "", "", err
		}
		return OutcomeApplied, "", nil
	}
	return "", "", fmt.Errorf("unknown action %q", st.Action)
}

// userOf finds the user a step is about: by App ID (the live application user) or by user ID.
func (r *envRun) userOf(ctx context.Context, p map[string]any) (*liveUser, error) {
	if app := appID(p); app != "" {
		live, _, err := appUsers(ctx, r.dv, app)
		if err != nil {
			return nil, err
		}
		if live == nil {
			return nil, fmt.Errorf("there is no application user for App ID %s in this environment (it must be created first)", app)
		}
		return live, nil
	}
	u, err := user(ctx, r.dv, str(p, "user_id"))
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("the user %s no longer exists", str(p, "user_id"))
	}
	return u, nil
}

// explain turns a failed write into what to do about it. Hints go by status and action, not by the wording of
// Dataverse's messages, which is not documented for these cases.
func explain(st Step, err error) string {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return err.Error()
	}
	switch {
	case st.Action == ActCreateAppUser && ae.Status == http.StatusBadRequest:
		return fmt.Sprintf("%s — Dataverse refused to create the application user. The usual causes: the Work 365 app (App ID %s) has no service principal in this tenant yet (complete Work 365's consent or onboarding for the tenant first), or a soft-deleted application user of the same app still exists (purge it: Power Platform admin center → the environment → Settings → Users + permissions → Users → Manage users in Dynamics 365 → Disabled users view → delete it permanently)", ae.Error(), appID(st.Params))
	case ae.Status == http.StatusNotFound && st.Action != ActClearCache:
		return ae.Error() + " — the row was deleted after it was read; nothing was created in its place (updates are sent with If-Match: *): run audit fix again"
	case ae.Status == http.StatusForbidden:
		return ae.Error() + " — the auditor's application user lacks a write privilege here: give it a role that can write users and role assignments (and the Work 365 settings) in this environment"
	case ae.Status == http.StatusTooManyRequests:
		return ae.Error() + " — Dataverse kept throttling this write: run audit fix again later; it re-reads the state and continues"
	}
	return ae.Error()
}

// outcomeGroup orders an environment's outcomes: automatic steps in the order they ran, then manual steps,
// then the steps left out.
func outcomeGroup(o Outcome) int {
	switch o.Status {
	case OutcomeManual:
		if o.Step.Action == ActManual {
			return 1
		}
	case OutcomeNotApplied:
		return 2
	}
	return 0
}

func sortOutcomes(os []Outcome) {
	sort.SliceStable(os, func(i, j int) bool {
		x, y := os[i], os[j]
		if x.Tenant != y.Tenant {
			return x.Tenant < y.Tenant
		}
		if x.Environment != y.Environment {
			return x.Environment < y.Environment
		}
		return outcomeGroup(x) < outcomeGroup(y)
	})
}
