package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/report"
)

// mergeOptions are the flags of audit merge.
type mergeOptions struct {
	configPath string
	report     reportOptions
	history    audit.History
}

func newMergeCmd(g *globals) *cobra.Command {
	var o mergeOptions
	cmd := &cobra.Command{
		Use:   "merge REPORT.json...",
		Short: "Combine the JSON reports of the parts of a sharded scan into the report of the whole scan",
		Long: `merge reads the JSON reports of every part of a scan split with 'audit scan --shard INDEX/COUNT'
(one per CI matrix job or Kubernetes job) and writes the report of the whole scan in every format asked for:
the same report an unsharded scan gives. Parts hold whole tenants, so every rule (GOV.1 too, which judges a
tenant by all its environments) was evaluated on complete tenants; merge recounts the summary and merges the
waiver warnings (a waiver used in any part is not stale). It refuses parts of different scans, a missing
part, or a part given twice.

The exit code is the whole scan's: 0, 3 (failing at or above the parts' --fail-on) or 4 (not everything
could be audited). With --history, the merged run is recorded, compared with the previous one and the
config's notifications are sent, as 'audit scan --history' does; --config also locates SARIF results in
the config file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error { return runMerge(cmd.Context(), g, args, o) }),
	}
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "the scan's config file: notifications, history.path, SARIF locations")
	cmd.Flags().StringVar(&o.report.formats, "format", "table,json", "comma-separated report formats: "+strings.Join(report.Names(), ", "))
	cmd.Flags().StringVarP(&o.report.output, "output", "o", "", "directory for the report files, report.<ext> and inventory.csv (default ./"+defaultReportDir+"); - writes a single format to standard output")
	cmd.Flags().BoolVarP(&o.report.quiet, "quiet", "q", false, "no table, no notes: only files and the exit code")
	cmd.Flags().StringVar(&o.history.Path, "history", "", "record the merged run in this history file, compare it with the previous one and notify")
	cmd.Flags().StringVar(&o.history.Keep, "keep", "", "with a history: keep the newest N runs, or those of the last N days with Nd")
	return cmd
}

func runMerge(ctx context.Context, g *globals, paths []string, o mergeOptions) error {
	o.report.failOn = "high" // validated here; the merged report keeps its parts' threshold
	if err := o.report.validate(); err != nil {
		return err
	}
	if o.history.Keep != "" {
		if _, err := audit.ParseKeep(o.history.Keep); err != nil {
			return err
		}
	}
	var cfg *config.Config
	if o.configPath != "" {
		var err error
		if cfg, err = config.LoadSettings(o.configPath); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if err := o.history.Resolve(cfg, false, false); err != nil {
		return err
	}
	merged, err := audit.MergeReports(paths, g.now())
	if err != nil {
		return err
	}
	o.report.failOn = merged.FailOn
	o.report.source = sarifSource(cfg)
	ev := &audit.Evaluation{Report: merged}
	deps := g.deps(o.report.quiet)
	rec, err := audit.OpenRecorder(ctx, deps, o.history, "", merged.Policy.Digest, merged.FailOn, "merge")
	if err != nil {
		return err
	}
	defer rec.Close()
	rec.Compare(ctx, ev)
	if err := writeReports(g, merged, o.report); err != nil {
		rec.Abandon(err)
		return err
	}
	if err := rec.Finish(ctx, ev, cfg, o.report.output); err != nil {
		return err
	}
	return ev.Exit()
}
