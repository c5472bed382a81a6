package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/report"
)

// scanOptions are the flags of audit scan (and of every run of audit schedule).
type scanOptions struct {
	configPath  string
	envs        []string
	policyDirs  []string
	concurrency int
	snapshotOut string
	report      reportOptions
	fix         bool
	fixOpts     fixOptions
	history     audit.History // --history, --keep: record the run, compare it with the previous one, notify
	shard       audit.Shard   // --shard i/n: only this part of the tenants
}

func newScanCmd(g *globals) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Collect every environment, evaluate the rules and write the reports",
		Long: `scan reads every environment of the configured tenants, evaluates the Work 365 rules and writes
the reports: the table on standard output, the other formats as report.<ext> in --output (the
audit record of --format inventory as inventory.csv).

The exit code says whether anything fails at or above --fail-on (3) or could not be audited (4).

--fix is the one-shot form: scan, print the fix plan, apply it under the same confirmation and safety
rules as 'audit fix --apply' (--yes, --allow-production, --fix-privileges, --rule),
verify by collecting the changed environments again, and write the reports of the final state with
the fix outcome included. A failed fix step makes the exit code 5.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runScan(cmd.Context(), g, o) }),
	}
	addCollectFlags(cmd, &o.configPath, &o.envs, &o.concurrency)
	addReportFlags(cmd, &o.report)
	cmd.Flags().StringSliceVar(&o.policyDirs, "policy-dir", nil, "directory of additional Rego policies (repeatable)")
	cmd.Flags().StringVar(&o.snapshotOut, "snapshot", "", "also save the collected snapshot to this file")
	cmd.Flags().BoolVar(&o.fix, "fix", false, "after the scan, apply the automatic remediations (same confirmation and safety rules as audit fix --apply), verify, and report the final state")
	addFixFlags(cmd, &o.fixOpts)
	addScaleFlags(cmd, &o.history, &o.shard)
	return cmd
}

func addScaleFlags(cmd *cobra.Command, h *audit.History, s *audit.Shard) {
	cmd.Flags().StringVar(&h.Path, "history", "", "keep every run in this SQLite file, compare each run with the previous one, add the last 30 runs' trends to the reports and send the config's notifications (default: the config's history.path)")
	cmd.Flags().StringVar(&h.Keep, "keep", "", "with a history: keep the newest N runs, or those of the last N days with Nd (default: history.keep / history.keep_days, else all)")
	cmd.Flags().Var(s, "shard", "only part INDEX of COUNT of the tenants (each tenant whole, the same part every run): for parallel CI or Kubernetes jobs; audit merge combines the parts' JSON reports")
}

func runScan(ctx context.Context, g *globals, o scanOptions) error {
	p, err := prepareScan(ctx, g, o)
	if err != nil {
		return err
	}
	_, err = p.run(ctx, p.o.report, "scan")
	return err
}

// preparedScan is a scan ready to run: its session (config cut to its shard, compiled policies, targets).
// audit schedule prepares one and runs it at every scheduled time, so each run is exactly a scan.
type preparedScan struct {
	g *globals
	o scanOptions
	s *audit.Session
}

func prepareScan(ctx context.Context, g *globals, o scanOptions) (*preparedScan, error) {
	if err := o.report.validate(); err != nil {
		return nil, err
	}
	if o.fix && o.history.Path != "" {
		return nil, usageError("--history records scans: run 'audit scan --history' and 'audit fix --apply' separately")
	}
	if o.fix && o.shard.Count > 0 {
		return nil, usageError("--shard splits scans for audit merge: run 'audit fix' without --shard")
	}
	if o.history.Keep != "" {
		if _, err := audit.ParseKeep(o.history.Keep); err != nil {
			return nil, err
		}
	}
	cfg, err := audit.LoadConfig(o.configPath, g.getenv)
	if err != nil {
		return nil, err
	}
	if err := o.history.Resolve(cfg, o.fix, o.shard.Count > 0); err != nil {
		return nil, err
	}
	if all := o.shard.Apply(cfg); o.shard.Count > 0 && len(cfg.Tenants) == 0 && !o.report.quiet {
		printf(g.stderr, "shard %s: none of the %d configured tenants falls in this part (tenants are never split between parts); its report is empty\n", o.shard.String(), all)
	}
	s, err := audit.Open(ctx, g.deps(o.report.quiet), audit.Settings{Config: cfg, PolicyDirs: o.policyDirs, Envs: o.envs,
		Concurrency: o.concurrency, FailOn: o.report.failOn})
	if err != nil {
		return nil, err
	}
	o.report.source = sarifSource(cfg)
	return &preparedScan{g: g, o: o, s: s}, nil
}

// run scans once and writes the reports to ro; with a history it also compares the run with the previous
// one, records it and sends the notifications. trigger names what started it (scan, schedule). scan --fix
// scans under the tenants' locks, then fixes. The report is returned when it was written (nil for a fix).
func (p *preparedScan) run(ctx context.Context, ro reportOptions, trigger string) (*report.Report, error) {
	if p.o.fix {
		fo := p.o.fixOpts
		fo.envs, fo.report, fo.apply, fo.snapshot = p.o.envs, ro, true, p.o.snapshotOut
		return nil, fixAndReport(ctx, p.g, p.s, fo)
	}
	ev, err := p.s.RunScan(ctx, audit.ScanOptions{Snapshot: p.o.snapshotOut, History: p.o.history, Shard: p.o.shard, Trigger: trigger,
		ReportDir: ro.output}, func(ev *audit.Evaluation) error { return writeReports(p.g, ev.Report, ro) })
	if ev == nil {
		return nil, err
	}
	if err != nil { // written, but not recorded in the history
		return ev.Report, err
	}
	return ev.Report, ev.Exit()
}
