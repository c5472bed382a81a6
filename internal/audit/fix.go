package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/termtext"
)

// DefaultReportDir is where reports, snapshots and journals go when no output directory is given.
const DefaultReportDir = "audit-report"

// FixOptions say what a fix may change and how it is confirmed and journaled.
type FixOptions struct {
	Rules           []string // only failures of these rules (globs)
	Envs            []string // only these environments (globs)
	FixPrivileges   bool     // allow removing roles
	AllowProduction bool     // change production environments without a passing sandbox
	// Journal is the journal file; empty means fix-journal-<time>.jsonl in OutputDir (or DefaultReportDir).
	Journal   string
	OutputDir string
	// Confirm asks before anything is written; an error stops the run with nothing written. Nil confirms.
	Confirm func(question string) error
}

// FixRun is what an apply did: the evaluation of the state after it, each step's outcome, and the journal.
type FixRun struct {
	Final   *Evaluation
	Result  *fix.Result
	Journal string
}

// Failed is the error of a run in which a step failed or has an unknown outcome (exit code 5), else nil.
func (r *FixRun) Failed(what string) error {
	if n := r.Result.Failed(); n > 0 {
		return &ExitError{Code: CodeFixFailed, Err: fmt.Errorf("%d %s steps failed or have an unknown outcome (the journal %s records every write)", n, what, r.Journal)}
	}
	return nil
}

// Plan derives the fix plan of an evaluation: which steps, in which order, and what is held back or left out.
func (s *Session) Plan(ev *Evaluation, o FixOptions) *fix.Plan {
	ps := s.policy
	return fix.BuildPlan(ev.Snapshot, ev.Results, s.engine().Rules(), fix.Options{
		Rules: o.Rules, Environments: o.Envs, FixPrivileges: o.FixPrivileges, AllowProduction: o.AllowProduction,
		NonProductionTypes: ps.NonProductionTypes, SandboxTypes: ps.SandboxTypes, Roles: fix.RoleNames(ps.Roles),
		MinVersion: ps.MinVersion, ClearCacheName: s.cfg.Work365.ClearCacheAction,
	})
}

// ApplyOptions are the options of every apply and undo of the session: its clients, the Work 365 roles (the
// only ones assigned), the bounds, and a note on standard error when a write waits long under the lock.
func (s *Session) ApplyOptions(journal *fix.Journal) fix.ApplyOptions {
	w := s.deps.stderr()
	return fix.ApplyOptions{
		Clients: s.Clients(), Settings: fix.Settings{ClearCacheAction: s.cfg.Work365.ClearCacheAction}, Journal: journal,
		Concurrency: s.opts.Concurrency, PageSize: s.cfg.Collect.PageSize,
		Roles: fix.RoleNames(s.policy.Roles),
		Waiting: func(tenant, env string, d time.Duration) {
			termtext.Fprintf(w, "audit: waiting %s before writing to %q again (Dataverse asked with Retry-After); the lock of tenant %s stays held meanwhile\n",
				d.Round(time.Second), env, tenant)
		},
	}
}

// Apply confirms, applies the plan with a journal, and verifies by collecting the changed environments
// again. The caller holds the tenants' locks (LockAll, taken before the evaluation the plan comes from). A
// plan with nothing automatic writes nothing and opens no journal; its outcome still lists the manual steps
// and what was left out.
func (s *Session) Apply(ctx context.Context, ev *Evaluation, plan *fix.Plan, o FixOptions) (*FixRun, error) {
	if plan.Automatic() == 0 {
		res, err := fix.Apply(ctx, plan, s.ApplyOptions(nil))
		return &FixRun{Final: ev, Result: res}, err
	}
	if o.Confirm != nil {
		if err := o.Confirm(fmt.Sprintf("Apply %d automatic steps in %d environments?", plan.Automatic(), CountEnvs(plan))); err != nil {
			return nil, err
		}
	}
	path := o.Journal
	if path == "" {
		path = filepath.Join(orDefault(o.OutputDir), "fix-journal-"+s.deps.now().UTC().Format("20060102T150405Z")+".jsonl")
	}
	journal, err := s.openJournal(path, "fix")
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	s.note("journal: %s", path)
	ao := s.ApplyOptions(journal)
	ao.VerifySandboxes = func(ctx context.Context, tenant string, ids []string) ([]string, error) {
		return s.VerifySandboxes(ctx, ev, tenant, ids)
	}
	run := &FixRun{Final: ev, Journal: path}
	if run.Result, err = fix.Apply(ctx, plan, ao); err != nil {
		return run, fmt.Errorf("apply: %w (the journal %s records what was written)", err, path)
	}
	if run.Final, err = s.Verify(ctx, ev, run.Result); err != nil {
		return run, err
	}
	return run, nil
}

// Verify collects the environments a fix changed again and evaluates the state after it.
func (s *Session) Verify(ctx context.Context, ev *Evaluation, res *fix.Result) (*Evaluation, error) {
	if len(res.Touched) == 0 {
		return ev, nil
	}
	snap, err := s.Recollect(ctx, ev.Snapshot, res.Touched)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	final, err := s.Evaluate(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return final, nil
}

// VerifySandboxes collects the sandboxes of a tenant changed in this run again and names those that now pass
// the critical rules: what lets a conditional production environment be changed.
func (s *Session) VerifySandboxes(ctx context.Context, ev *Evaluation, tenant string, ids []string) ([]string, error) {
	snap, err := s.Recollect(ctx, ev.Snapshot, map[string][]string{tenant: ids})
	if err != nil {
		return nil, err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	results, err := eng.Evaluate(ctx, snap, policy.NewWaivers(waiversOf(s.cfg), s.deps.now()).Apply)
	if err != nil {
		return nil, err
	}
	severity := map[string]string{}
	for _, r := range eng.Rules() {
		severity[r.ID] = r.Severity
	}
	byEnv := map[string][]policy.Result{}
	for _, r := range results {
		byEnv[r.EnvironmentID] = append(byEnv[r.EnvironmentID], r)
	}
	var names []string
	for _, t := range snap.Tenants {
		for i := range t.Environments {
			e := &t.Environments[i]
			if slices.Contains(ids, e.ID) && fix.PassesCritical(e, byEnv[e.ID], severity) {
				names = append(names, e.Name)
			}
		}
	}
	return names, nil
}

// Undo reverses the writes of a journaled run under the locks of their tenants, with a journal of its own
// (next to the reversed one unless o.Journal names it). It returns the outcomes and the undo's journal.
func (s *Session) Undo(ctx context.Context, plan *fix.UndoPlan, reversed string, o FixOptions) (*FixRun, error) {
	if o.Confirm != nil {
		if err := o.Confirm(fmt.Sprintf("Undo %d writes of run %s?", len(plan.Steps), plan.RunID)); err != nil {
			return nil, err
		}
	}
	var tenants []string
	for _, st := range plan.Steps {
		tenants = append(tenants, st.Tenant)
	}
	release, err := s.Lock(tenants...)
	if err != nil {
		return nil, err
	}
	defer release()
	path := o.Journal
	if path == "" {
		path = strings.TrimSuffix(reversed, ".jsonl") + ".undo-" + s.deps.now().UTC().Format("20060102T150405Z") + ".jsonl"
	}
	journal, err := s.openJournal(path, "undo")
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	run := &FixRun{Journal: path}
	run.Result, err = fix.Undo(ctx, plan, s.ApplyOptions(journal))
	if err != nil {
		return run, fmt.Errorf("undo: %w (the journal %s records what was written)", err, path)
	}
	return run, nil
}

func (s *Session) openJournal(path, kind string) (*fix.Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	return fix.OpenJournal(path, s.deps.now().UTC().Format("20060102T150405.000000000Z"), kind, s.deps.ToolVersion, s.deps.Now)
}

// CountEnvs counts the environments a plan changes automatically.
func CountEnvs(p *fix.Plan) int {
	n := 0
	for _, e := range p.Environments {
		if len(e.Steps) > 0 && e.Blocked == "" && e.Gate != fix.GateClosed {
			n++
		}
	}
	return n
}

// FixReport is the outcome of a fix run as the reports carry it.
func FixReport(res *fix.Result, journal, mode string) *report.Fix {
	out := &report.Fix{Mode: mode, Journal: journal, Counts: map[string]int{}, Outcomes: []report.FixOutcome{}}
	for _, o := range res.Outcomes {
		out.Counts[o.Status]++
		rules := o.Step.Rules
		if rules == nil {
			rules = []string{}
		}
		out.Outcomes = append(out.Outcomes, report.FixOutcome{Tenant: o.Tenant, EnvironmentID: o.EnvironmentID, Environment: o.Environment,
			Action: string(o.Step.Action), Description: o.Step.Description, Rules: rules, Status: o.Status, Reason: o.Reason})
	}
	return out
}

func orDefault(dir string) string {
	if dir == "" || dir == "-" {
		return DefaultReportDir
	}
	return dir
}
