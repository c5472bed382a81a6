package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/fix"
)

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
	snapshot        string // scan --fix --snapshot: also save what the plan was made from
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

func runFix(ctx context.Context, g *globals, o fixOptions) error {
	if o.purgeDeleted {
		fmt.Fprintln(g.stderr, "audit: --purge-deleted no longer does anything: permanent deletion of a user is a preview feature that needs an environment setting and the user's records reassigned first, so the plan lists it as a manual step")
	}
	if err := o.report.validate(); err != nil {
		return err
	}
	s, err := audit.Open(ctx, g.deps(o.report.quiet), audit.Settings{ConfigPath: o.configPath, PolicyDirs: o.policyDirs, Envs: o.envs,
		Concurrency: o.concurrency, FailOn: o.report.failOn})
	if err != nil {
		return err
	}
	return fixAndReport(ctx, g, s, o)
}

// fixAndReport plans the fixes of the session's environments and prints the plan; with --apply it applies
// it, prints each step's outcome and writes the reports of the state after the run. The plan of an apply is
// made under the tenants' locks, from state read under them: another run's writes cannot slip in between.
func fixAndReport(ctx context.Context, g *globals, s *audit.Session, o fixOptions) error {
	if o.apply {
		release, err := s.LockAll()
		if err != nil {
			return err
		}
		defer release()
	}
	ev, err := s.Scan(ctx)
	if err != nil {
		return err
	}
	if o.snapshot != "" {
		if err := audit.SaveSnapshot(o.snapshot, ev.Snapshot); err != nil {
			return err
		}
	}
	fo := o.settings(g)
	plan := s.Plan(ev, fo)
	printPlan(g, plan, o.apply)
	if !o.apply {
		return nil
	}
	if plan.Automatic() == 0 {
		fmt.Fprintln(g.stdout, "\nNothing to apply automatically.")
	}
	run, err := s.Apply(ctx, ev, plan, fo)
	if run != nil && run.Result != nil {
		printOutcomes(g, run.Result)
	}
	if err != nil {
		return err
	}
	run.Final.Report.Fix = audit.FixReport(run.Result, run.Journal, "apply")
	if err := writeReports(g, run.Final.Report, o.report); err != nil {
		return err
	}
	if err := run.Failed("fix"); err != nil {
		return err
	}
	return run.Final.Exit()
}

// settings are the fix options of the application layer: scope, opt-ins, journal and the confirmation.
func (o fixOptions) settings(g *globals) audit.FixOptions {
	return audit.FixOptions{Rules: o.rules, Envs: o.envs, FixPrivileges: o.fixPrivileges, AllowProduction: o.allowProduction,
		Journal: o.journal, OutputDir: o.report.output, Confirm: func(q string) error { return confirm(g, o.yes, q) }}
}

// confirm asks on a terminal; --yes skips the question; without a terminal it refuses.
func confirm(g *globals, yes bool, question string) error {
	if yes {
		return nil
	}
	if !g.stdinTTY {
		return usageError("refusing to change anything without confirmation: standard input is not a terminal; pass --yes for unattended runs")
	}
	fmt.Fprintf(g.stderr, "\n%s Type yes to continue: ", question)
	line, _ := bufio.NewReader(g.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &exitErr{Code: exitError, Err: errors.New("not confirmed: nothing was changed")}
}

func runUndo(ctx context.Context, g *globals, o fixOptions) error {
	plan, err := fix.BuildUndo(o.undo, o.runID)
	if err != nil {
		return withCode(exitUsage, err)
	}
	s, err := audit.Open(ctx, g.deps(o.report.quiet), audit.Settings{ConfigPath: o.configPath, PolicyDirs: o.policyDirs,
		Concurrency: o.concurrency, FailOn: o.report.failOn})
	if err != nil {
		return err
	}
	printUndoPlan(g, plan, o.undo)
	if len(plan.Steps) == 0 {
		return nil
	}
	run, err := s.Undo(ctx, plan, o.undo, o.settings(g))
	if run != nil && run.Result != nil {
		printOutcomes(g, run.Result)
	}
	if err != nil {
		return err
	}
	return run.Failed("undo")
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
