package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/snapshot"
)

// evaluateOptions are the flags of audit evaluate.
type evaluateOptions struct {
	configPath string
	policyDirs []string
	report     reportOptions
}

func newEvaluateCmd(g *globals) *cobra.Command {
	var o evaluateOptions
	cmd := &cobra.Command{
		Use:   "evaluate SNAPSHOT",
		Short: "Evaluate a saved snapshot offline and write the reports",
		Long: `evaluate runs the rules on a snapshot written by 'audit collect' (or 'audit scan --snapshot') and
writes the same reports and exit code as 'audit scan' would have. It makes no network calls; --config
is read only for policy data overrides and waivers; it may have no tenants.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error { return runEvaluate(cmd.Context(), g, args[0], o) }),
	}
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "config file for policy data overrides and waivers (tenants optional)")
	cmd.Flags().StringSliceVar(&o.policyDirs, "policy-dir", nil, "directory of additional Rego policies (repeatable)")
	addReportFlags(cmd, &o.report)
	return cmd
}

func runEvaluate(ctx context.Context, g *globals, path string, o evaluateOptions) error {
	if err := o.report.validate(); err != nil {
		return err
	}
	snap, err := snapshot.Load(path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var cfg *config.Config
	if o.configPath != "" {
		if cfg, err = config.LoadSettings(o.configPath); err != nil {
			return withCode(exitUsage, err)
		}
	}
	eng, err := audit.LoadEngine(ctx, cfg, o.policyDirs)
	if err != nil {
		return err
	}
	ev, err := audit.Evaluate(ctx, g.deps(o.report.quiet), eng, cfg, snap, o.report.failOn, audit.Sources(o.policyDirs))
	if err != nil {
		return err
	}
	if err := writeReports(g, ev.Report, o.report); err != nil {
		return err
	}
	return ev.Exit()
}
