package fix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
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
	// OutcomeUnknown is a write whose answer was lost (no HTTP status, or a server error) and whose effect could
	// not be read back: it may have landed. The next run and undo read the state again to decide.
	OutcomeUnknown = "unknown"
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
	// Roles are the Work 365 roles, the only ones assign_role may give; System Administrator and System
	// Customizer are refused whatever they say.
	Roles RoleNames
	// MaxWriteAttempts bounds how often a write is sent: again after a 429, or after a lost answer once the
	// state shows it did not land.
	MaxWriteAttempts int
	Sleep            func(ctx context.Context, d time.Duration) error
	// Waiting, when set, is told when a write is about to wait LongWait or more (Retry-After) while the
	// tenant's lock is held.
	Waiting func(tenant, environment string, d time.Duration)
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

// Failed counts the steps that failed or whose outcome is unknown: neither did what was asked for sure.
func (r *Result) Failed() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Status == OutcomeFailed || o.Status == OutcomeUnknown {
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
			var unknown *errUnknown
			what := "failed"
			if errors.As(err, &unknown) {
				a.add(ep, st, OutcomeUnknown, explain(st, err))
				what = "has an unknown outcome"
			} else {
				a.add(ep, st, OutcomeFailed, explain(st, err))
			}
			rest := ep.Steps[i+1:]
			a.record(ep, rest, OutcomeFailed, fmt.Sprintf("not attempted: step %d (%s) %s in this environment", i+1, st.Action, what))
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

// explain turns a failed write into what to do about it. Hints go by status and action, not by the wording of
// Dataverse's messages, which is not documented for these cases.
func explain(st Step, err error) string {
	var ae *api.Error
	var we *api.WaitError
	var unknown *errUnknown
	if errors.As(err, &we) || errors.As(err, &unknown) || !errors.As(err, &ae) {
		return err.Error() // a refused wait names its bound; a lost answer says what decides it
	}
	switch {
	case st.Action == ActCreateAppUser && ae.Status == http.StatusBadRequest:
		return fmt.Sprintf("%s — Dataverse refused to create the application user. The usual causes: the Work 365 app (App ID %s) has no service principal in this tenant yet (complete Work 365's consent or onboarding for the tenant first), or a soft-deleted application user of the same app still exists (purge it: Power Platform admin center → the environment → Settings → Users + permissions → Users → Manage users in Dynamics 365 → Disabled users view → delete it permanently)", err.Error(), appID(st.Params))
	case ae.Status == http.StatusNotFound && st.Action != ActClearCache:
		return err.Error() + " — the row was deleted after it was read; nothing was created in its place (updates are sent with If-Match: *): run audit fix again"
	case ae.Status == http.StatusForbidden:
		return err.Error() + " — the auditor's application user lacks a write privilege here: give it a role that can write users and role assignments (and the Work 365 settings) in this environment"
	case ae.Status == http.StatusTooManyRequests:
		return err.Error() + " — Dataverse kept throttling this write: run audit fix again later; it re-reads the state and continues"
	}
	return err.Error()
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
