package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// scanOptions are the flags of audit scan.
type scanOptions struct {
	configPath  string
	envs        []string
	policyDirs  []string
	concurrency int
	snapshotOut string
	report      reportOptions
	fix         bool
	fixOpts     fixOptions
	history     historyOptions // --history, --keep: record the run, compare it with the previous one, notify
	shard       shard          // --shard i/n: only this part of the tenants
}

func addReportFlags(cmd *cobra.Command, o *reportOptions) {
	cmd.Flags().StringVar(&o.formats, "format", "table,json", "comma-separated report formats: "+strings.Join(report.Names(), ", "))
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "directory for report.<ext> files (default ./"+defaultReportDir+"); - writes a single format to standard output")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "high", "lowest severity that makes the exit code 3: critical, high, medium or low")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress, no table, no notes: only files and the exit code")
}

func addCollectFlags(cmd *cobra.Command, configPath *string, envs *[]string, concurrency *int) {
	cmd.Flags().StringVarP(configPath, "config", "c", "", "config file (tenants, credentials, settings); default: the AZURE_* variables")
	cmd.Flags().StringSliceVar(envs, "env", nil, "only environments whose name or ID matches this glob (repeatable)")
	cmd.Flags().IntVar(concurrency, "concurrency", 0, fmt.Sprintf("requests in flight across all environments (default: collect.concurrency, %d)", config.DefaultConcurrency))
}

func newScanCmd(g *globals) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Collect every environment, evaluate the rules and write the reports",
		Long: `scan reads every environment of the configured tenants, evaluates the Work 365 rules and writes
the reports: the table on standard output, the other formats as report.<ext> in --output.

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

func runScan(ctx context.Context, g *globals, o scanOptions) error {
	p, err := prepareScan(ctx, g, o)
	if err != nil {
		return err
	}
	return p.run(ctx, p.o.report, "scan")
}

// preparedScan is a scan ready to run: its config (cut to its shard), compiled policies and session. audit
// schedule prepares one and runs it at every scheduled time, so each run is exactly a scan.
type preparedScan struct {
	g   *globals
	o   scanOptions
	cfg *config.Config
	eng *policy.Engine
	s   *session
}

func prepareScan(ctx context.Context, g *globals, o scanOptions) (*preparedScan, error) {
	if err := o.report.validate(); err != nil {
		return nil, err
	}
	if err := o.validateScale(); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(g, o.configPath)
	if err != nil {
		return nil, err
	}
	if err := o.history.resolve(cfg, o.fix, o.shard.count > 0); err != nil {
		return nil, err
	}
	o.shard.apply(g, cfg, o.report.quiet)
	eng, err := loadEngine(ctx, cfg, o.policyDirs)
	if err != nil {
		return nil, err
	}
	s, err := newSession(g, cfg, eng, o.envs, o.concurrency)
	if err != nil {
		return nil, err
	}
	o.report.source = sarifSource(cfg)
	return &preparedScan{g: g, o: o, cfg: cfg, eng: eng, s: s}, nil
}

// run collects, evaluates and writes the reports once; with a history it also compares the run with the
// previous one, records it and sends the notifications. trigger names what started it (scan, schedule).
func (p *preparedScan) run(ctx context.Context, ro reportOptions, trigger string) error {
	g, o, cfg, eng, s := p.g, p.o, p.cfg, p.eng, p.s
	rec, err := openRecorder(ctx, g, o, eng.Digest(), ro.failOn, trigger)
	if err != nil {
		return err
	}
	defer rec.close()
	if o.fix {
		// scan --fix plans from this collection: it is read under the tenants' locks, as audit fix --apply does.
		release, err := lockAll(g, s)
		if err != nil {
			rec.abandon(err)
			return err
		}
		defer release()
	}
	snap, err := s.collect(ctx, ro.quiet)
	if err == nil && rec.watchesInterrupts(trigger) && ctx.Err() != nil {
		err = errInterrupted
	}
	if err != nil {
		rec.abandon(err)
		return err
	}
	if o.snapshotOut != "" {
		if err := saveSnapshot(o.snapshotOut, snap); err != nil {
			rec.abandon(err)
			return err
		}
	}
	ev, err := evaluate(ctx, g, eng, cfg, snap, ro.failOn, sources(o.policyDirs))
	if err != nil {
		rec.abandon(err)
		return err
	}
	if !o.fix {
		o.shard.mark(ev.report)
		rec.compare(ctx, ev, ro.quiet)
		if err := writeReports(g, ev, ro); err != nil {
			rec.abandon(err)
			return err
		}
		if err := rec.record(ctx, ev, ro); err != nil {
			return err
		}
		rec.notify(ctx, g, cfg, ev, ro.quiet)
		return exitFor(ev.report)
	}
	fo := o.fixOpts
	fo.envs, fo.policyDirs, fo.report, fo.apply = o.envs, o.policyDirs, o.report, true
	plan := fix.BuildPlan(ev.snap, ev.results, eng.Rules(), fo.planOptions(s))
	printPlan(g, plan, true)
	final, res, journal, err := applyPlan(ctx, g, s, ev, plan, fo)
	if err != nil {
		return err
	}
	return finishFix(g, s, final, res, journal, "apply", o.report)
}

func sources(dirs []string) []string {
	return append([]string{"embedded"}, dirs...)
}
