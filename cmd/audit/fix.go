package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// exitFixFailed is the exit code of a fix run in which at least one step failed.
const exitFixFailed = 5

// fixOptions are the flags of audit fix (and of the --fix part of audit scan).
type fixOptions struct {
	configPath      string
	envs            []string
	rules           []string
	policyDirs      []string
	concurrency     int
	apply           bool
	yes             bool
	allowProduction bool
	fixPrivileges   bool
	purgeDeleted    bool // accepted for old scripts; it does nothing
	journal         string
	undo            string
	runID           string
	report          reportOptions
}

func addFixFlags(cmd *cobra.Command, o *fixOptions) {
	cmd.Flags().StringSliceVar(&o.rules, "rule", nil, "only fix failures of these rules (ID or glob, repeatable)")
	cmd.Flags().BoolVar(&o.yes, "yes", false, "apply without asking for confirmation (unattended runs)")
	cmd.Flags().BoolVar(&o.allowProduction, "allow-production", false, "change production environments even when no sandbox of the tenant passes the critical rules")
	cmd.Flags().BoolVar(&o.fixPrivileges, "fix-privileges", false, "also remove roles: extra roles of the application user (W365.ROLES.3), Work 365 Service of people (W365.LEGACY.1)")
	cmd.Flags().BoolVar(&o.purgeDeleted, "purge-deleted", false, "no longer used: permanent deletion of users is a manual step")
	_ = cmd.Flags().MarkHidden("purge-deleted")
	cmd.Flags().StringVar(&o.journal, "journal", "", "JSONL journal of every write (default: fix-journal-<time>.jsonl in the output directory)")
}

func newFixCmd(g *globals) *cobra.Command {
	var o fixOptions
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Plan the remediations of the failing results, and apply them with --apply",
		Long: `fix collects and evaluates like scan, then prints the remediation plan per environment in the order it
would be applied (create → enable → roles → service user → clear cache), with the manual steps a person
has to take. It changes nothing unless --apply is given.

With --apply it asks for confirmation on a terminal (--yes skips it; without a terminal and without
--yes it refuses), journals every write before it is sent, re-reads the state before each step, and
verifies the result by collecting the changed environments again.

Safety: environments that could not be read completely are never changed; an environment whose Work
365 is below the minimum version gets no automatic change (its plan starts with the upgrade);
production environments are changed only when a sandbox of the same tenant passes the critical rules
(after this run's own sandbox fixes), or with --allow-production; removing roles needs
--fix-privileges. A soft-deleted application user is never purged automatically: permanent deletion
is a manual step, and the application user is re-created once it is done.

--undo JOURNAL reverses the reversible writes of a run (role assignments, the service-user setting,
enable/disable), newest first; created users are disabled, never deleted.

Exit codes: as scan for the state after the run, and 5 when a step failed.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if o.undo != "" {
				return runUndo(cmd.Context(), g, o)
			}
			return runFix(cmd.Context(), g, o)
		}),
	}
	addCollectFlags(cmd, &o.configPath, &o.envs, &o.concurrency)
	addFixFlags(cmd, &o)
	cmd.Flags().BoolVar(&o.apply, "apply", false, "apply the automatic steps (asks for confirmation unless --yes)")
	cmd.Flags().StringVar(&o.undo, "undo", "", "reverse the writes journaled in this file (the last run in it, or --run)")
	cmd.Flags().StringVar(&o.runID, "run", "", "with --undo: the run to reverse (default: the last fix run in the journal)")
	cmd.Flags().StringSliceVar(&o.policyDirs, "policy-dir", nil, "directory of additional Rego policies (repeatable)")
	addReportFlags(cmd, &o.report)
	cmd.Flags().Lookup("format").DefValue = "table"
	_ = cmd.Flags().Set("format", "table")
	return cmd
}

// fixSession prepares a fix: config, policies, targets, the collected snapshot and its evaluation.
func fixSession(ctx context.Context, g *globals, o fixOptions) (*session, *evaluation, error) {
	if err := o.report.validate(); err != nil {
		return nil, nil, err
	}
	s, err := openSession(ctx, g, o.configPath, o.policyDirs, o.envs, o.concurrency)
	if err != nil {
		return nil, nil, err
	}
	ev, err := s.collectAndEvaluate(ctx, o)
	return s, ev, err
}

// collectAndEvaluate reads the environments in scope and evaluates them, as a fix plans from.
func (s *session) collectAndEvaluate(ctx context.Context, o fixOptions) (*evaluation, error) {
	snap, err := s.collect(ctx, o.report.quiet)
	if err != nil {
		return nil, err
	}
	return evaluate(ctx, s.g, s.eng, s.cfg, snap, o.report.failOn, sources(o.policyDirs))
}

func (o fixOptions) planOptions(s *session) fix.Options {
	ps := s.eng.Settings()
	return fix.Options{
		Rules: o.rules, Environments: o.envs, FixPrivileges: o.fixPrivileges, AllowProduction: o.allowProduction,
		NonProductionTypes: ps.NonProductionTypes, SandboxTypes: ps.SandboxTypes, Roles: fix.RoleNames(ps.Roles),
		MinVersion: ps.MinVersion, ClearCacheName: s.cfg.Work365.ClearCacheAction,
	}
}

func runFix(ctx context.Context, g *globals, o fixOptions) error {
	if o.purgeDeleted {
		fmt.Fprintln(g.stderr, "audit: --purge-deleted no longer does anything: permanent deletion of a user is a preview feature that needs an environment setting and the user's records reassigned first, so the plan lists it as a manual step")
	}
	if err := o.report.validate(); err != nil {
		return err
	}
	s, err := openSession(ctx, g, o.configPath, o.policyDirs, o.envs, o.concurrency)
	if err != nil {
		return err
	}
	if o.apply {
		// The plan is made under the lock, from state read under it: another run's writes cannot slip in between.
		release, err := lockAll(g, s)
		if err != nil {
			return err
		}
		defer release()
	}
	ev, err := s.collectAndEvaluate(ctx, o)
	if err != nil {
		return err
	}
	plan := fix.BuildPlan(ev.snap, ev.results, s.eng.Rules(), o.planOptions(s))
	printPlan(g, plan, o.apply)
	if !o.apply {
		return nil
	}
	final, res, journal, err := applyPlan(ctx, g, s, ev, plan, o)
	if err != nil {
		return err
	}
	return finishFix(g, s, final, res, journal, "apply", o.report)
}

// applyPlan confirms, applies the plan with a journal and verifies by collecting the changed environments
// again; the caller holds the tenants' locks. It returns the evaluation of the state after the run.
func applyPlan(ctx context.Context, g *globals, s *session, ev *evaluation, plan *fix.Plan, o fixOptions) (*evaluation, *fix.Result, string, error) {
	if plan.Automatic() == 0 {
		// Nothing will be written: no confirmation, lock or journal, but the outcome still lists the manual
		// steps and what was left out, and why.
		fmt.Fprintln(g.stdout, "\nNothing to apply automatically.")
		res, err := fix.Apply(ctx, plan, applyOptions(g, s, nil))
		return ev, res, "", err
	}
	if err := confirm(g, o.yes, fmt.Sprintf("Apply %d automatic steps in %d environments?", plan.Automatic(), countEnvs(plan))); err != nil {
		return nil, nil, "", err
	}
	journalPath := o.journal
	if journalPath == "" {
		journalPath = filepath.Join(outputDir(o.report.output), "fix-journal-"+g.now().UTC().Format("20060102T150405Z")+".jsonl")
	}
	if err := os.MkdirAll(filepath.Dir(journalPath), 0o700); err != nil {
		return nil, nil, "", fmt.Errorf("create journal directory: %w", err)
	}
	runID := g.now().UTC().Format("20060102T150405.000000000Z")
	journal, err := fix.OpenJournal(journalPath, runID, "fix", toolVersion(), g.now)
	if err != nil {
		return nil, nil, "", err
	}
	defer journal.Close()
	if !o.report.quiet {
		printf(g.stderr, "journal: %s\n", journalPath)
	}
	ao := applyOptions(g, s, journal)
	ao.VerifySandboxes = func(ctx context.Context, tenant string, ids []string) ([]string, error) {
		return verifySandboxes(ctx, g, s, ev, tenant, ids, o)
	}
	res, err := fix.Apply(ctx, plan, ao)
	if err != nil {
		return nil, res, journalPath, fmt.Errorf("apply: %w (the journal %s records what was written)", err, journalPath)
	}
	final := ev
	if len(res.Touched) > 0 {
		snap, err := s.recollect(ctx, ev.snap, res.Touched)
		if err != nil {
			return nil, res, journalPath, fmt.Errorf("verify: %w", err)
		}
		if final, err = evaluate(ctx, g, s.eng, s.cfg, snap, o.report.failOn, sources(o.policyDirs)); err != nil {
			return nil, res, journalPath, fmt.Errorf("verify: %w", err)
		}
	}
	return final, res, journalPath, nil
}

// verifySandboxes collects the sandboxes changed in this run again and names those that now pass the critical rules.
func verifySandboxes(ctx context.Context, g *globals, s *session, ev *evaluation, tenant string, ids []string, o fixOptions) ([]string, error) {
	snap, err := s.recollect(ctx, ev.snap, map[string][]string{tenant: ids})
	if err != nil {
		return nil, err
	}
	after, err := evaluate(ctx, g, s.eng, s.cfg, snap, o.report.failOn, nil)
	if err != nil {
		return nil, err
	}
	severity := map[string]string{}
	for _, r := range s.eng.Rules() {
		severity[r.ID] = r.Severity
	}
	byEnv := map[string][]policy.Result{}
	for _, r := range after.results {
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

// applyOptions are the options of every apply and undo of a session: its clients, the Work 365 roles (the
// only ones assigned), the bounds, and a word on standard error when a write waits long under the lock.
func applyOptions(g *globals, s *session, journal *fix.Journal) fix.ApplyOptions {
	return fix.ApplyOptions{
		Clients: s.clients(), Settings: fix.Settings{ClearCacheAction: s.cfg.Work365.ClearCacheAction}, Journal: journal,
		Concurrency: s.opts.Concurrency, PageSize: s.cfg.Collect.PageSize,
		Roles: fix.RoleNames(s.eng.Settings().Roles),
		Waiting: func(tenant, env string, d time.Duration) {
			printf(g.stderr, "audit: waiting %s before writing to %q again (Dataverse asked with Retry-After); the lock of tenant %s stays held meanwhile\n",
				d.Round(time.Second), env, tenant)
		},
	}
}

func outputDir(o string) string {
	if o == "" || o == "-" {
		return defaultReportDir
	}
	return o
}

func countEnvs(p *fix.Plan) int {
	n := 0
	for _, e := range p.Environments {
		if len(e.Steps) > 0 && e.Blocked == "" && e.Gate != fix.GateClosed {
			n++
		}
	}
	return n
}

// confirm asks on a terminal; --yes skips the question; without a terminal it refuses.
func confirm(g *globals, yes bool, question string) error {
	if yes {
		return nil
	}
	if !g.stdinTTY {
		return usageError("refusing to change anything without confirmation: standard input is not a terminal; pass --yes for unattended runs")
	}
	printf(g.stderr, "\n%s Type yes to continue: ", question)
	line, _ := bufio.NewReader(g.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &exitErr{code: exitError, err: errors.New("not confirmed: nothing was changed")}
}

// lockAll takes the lock of every tenant of the session, before anything is read for a plan that may be applied.
func lockAll(g *globals, s *session) (func(), error) {
	names := map[string]bool{}
	for _, t := range s.targets {
		names[t.Name] = true
	}
	return lockNames(g, s, names)
}

func lockNames(g *globals, s *session, names map[string]bool) (func(), error) {
	var locks []*fix.Lock
	release := func() {
		for _, l := range locks {
			l.Release()
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		id, endpoint := s.tenantEndpoint(n)
		l, err := fix.AcquireLock(id, endpoint, g.now())
		if err != nil {
			release()
			return nil, err
		}
		locks = append(locks, l)
	}
	return release, nil
}

// finishFix prints the outcome per step, writes the reports of the state after the run with the fix outcome,
// and picks the exit code.
func finishFix(g *globals, s *session, final *evaluation, res *fix.Result, journal, mode string, ro reportOptions) error {
	printOutcomes(g, res)
	final.report.Fix = fixReport(res, journal, mode)
	if err := writeReports(g, final, ro); err != nil {
		return err
	}
	if n := res.Failed(); n > 0 {
		return &exitErr{code: exitFixFailed, err: fmt.Errorf("%d fix steps failed (see above; the journal %s records every write)", n, journal)}
	}
	return exitFor(final.report)
}

func fixReport(res *fix.Result, journal, mode string) *report.Fix {
	out := &report.Fix{Mode: mode, Journal: journal, Counts: report.Counts{}, Outcomes: []report.FixOutcome{}}
	for _, o := range res.Outcomes {
		out.Counts[o.Status]++
		rules := o.Step.Rules
		if rules == nil {
			rules = []string{}
		}
		out.Outcomes = append(out.Outcomes, report.FixOutcome{Tenant: o.Tenant, EnvironmentID: o.EnvironmentID, Environment: o.Environment,
			Action: o.Step.Action, Description: o.Step.Description, Rules: rules, Status: o.Status, Reason: o.Reason})
	}
	return out
}

func runUndo(ctx context.Context, g *globals, o fixOptions) error {
	plan, err := fix.BuildUndo(o.undo, o.runID)
	if err != nil {
		return withCode(exitUsage, err)
	}
	s, err := openSession(ctx, g, o.configPath, o.policyDirs, nil, o.concurrency)
	if err != nil {
		return err
	}
	printUndoPlan(g, plan, o.undo)
	if len(plan.Steps) == 0 {
		return nil
	}
	if err := confirm(g, o.yes, fmt.Sprintf("Undo %d writes of run %s?", len(plan.Steps), plan.RunID)); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, st := range plan.Steps {
		names[st.Tenant] = true
	}
	release, err := lockNames(g, s, names)
	if err != nil {
		return err
	}
	defer release()
	journalPath := o.journal
	if journalPath == "" {
		journalPath = strings.TrimSuffix(o.undo, ".jsonl") + ".undo-" + g.now().UTC().Format("20060102T150405Z") + ".jsonl"
	}
	journal, err := fix.OpenJournal(journalPath, g.now().UTC().Format("20060102T150405.000000000Z"), "undo", toolVersion(), g.now)
	if err != nil {
		return err
	}
	defer journal.Close()
	res, err := fix.Undo(ctx, plan, applyOptions(g, s, journal))
	printOutcomes(g, res)
	if err != nil {
		return fmt.Errorf("undo: %w (the journal %s records what was written)", err, journalPath)
	}
	if n := res.Failed(); n > 0 {
		return &exitErr{code: exitFixFailed, err: fmt.Errorf("%d undo steps failed (journal %s)", n, journalPath)}
	}
	return nil
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
