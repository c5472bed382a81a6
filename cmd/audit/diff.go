package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/report"
)

// diffOptions are the flags of audit diff.
type diffOptions struct {
	historyPath string
	configPath  string
	policyDirs  []string
	format      string
	exitCode    bool
}

func newDiffCmd(g *globals) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff [OLD NEW]",
		Short: "Show what changed between two runs of the history, or two snapshot or report files",
		Long: `diff compares two scans: the failures that are new, resolved or persisting (with when each was
first seen), and the inventory changes: roles added to or removed from the application user, a service
user or application user that changed, an application user disabled, Work 365 upgraded, environments
added or removed.

With --history FILE, OLD and NEW are runs: an ID, latest or previous (default: previous latest). What
OLD could not read (an environment or tenant in an outage) is compared with the last run before it that
did, as each scan is compared with its previous run.
Without, they are files: snapshots (audit collect, scan --snapshot), evaluated again with --config's policy
data and waivers, or JSON reports (report.json). A failure that persists between two files is reported as
first seen at the older file's scan time (at least since then); a history knows when it really began.

--exit-code makes the exit code 3 when there are new failures, for CI jobs that fail on drift.`,
		Args: cobra.MaximumNArgs(2),
		RunE: runE(func(cmd *cobra.Command, args []string) error { return runDiff(cmd.Context(), g, args, o) }),
	}
	cmd.Flags().StringVar(&o.historyPath, "history", "", "compare runs of this history file")
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "config file: policy data and waivers for snapshot files, or its history.path")
	cmd.Flags().StringSliceVar(&o.policyDirs, "policy-dir", nil, "directory of additional Rego policies, for snapshot files (repeatable)")
	cmd.Flags().StringVar(&o.format, "format", "text", "text, json (the drift section of the JSON report) or markdown")
	cmd.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 3 when there are new failures")
	return cmd
}

func runDiff(ctx context.Context, g *globals, args []string, o diffOptions) error {
	switch o.format {
	case "text", "json", "markdown":
	default:
		return usageError("--format %q: use text, json or markdown", o.format)
	}
	var (
		before, after drift.Scan
		err           error
	)
	useHistory := o.historyPath != ""
	if !useHistory && len(args) < 2 && o.configPath != "" {
		if cfg, err := config.LoadSettings(o.configPath); err == nil && cfg.HistoryPath() != "" {
			o.historyPath, useHistory = cfg.HistoryPath(), true
		}
	}
	if useHistory {
		before, after, err = audit.HistoryScans(ctx, o.historyPath, args)
	} else {
		if len(args) != 2 {
			return usageError("diff needs two snapshot or report files, or --history FILE to compare runs")
		}
		var cfg *config.Config
		if o.configPath != "" {
			if cfg, err = config.LoadSettings(o.configPath); err != nil {
				return withCode(exitUsage, err)
			}
		}
		before, after, err = audit.FileScans(ctx, g.deps(true), cfg, [2]string{args[0], args[1]}, o.policyDirs)
	}
	if err != nil {
		return err
	}
	d := drift.Compare(before, after)
	var buf bytes.Buffer
	switch o.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return err
		}
	case "markdown":
		buf.WriteString(report.DriftMarkdown(d, after.Report.CollectedAt))
	default:
		report.DriftText(&buf, d, scanName(after), after.Report.CollectedAt)
	}
	if _, err := g.stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if o.exitCode && len(d.NewFailures) > 0 {
		return &exitErr{Code: exitFailing}
	}
	return nil
}

func scanName(s drift.Scan) string {
	when := s.Report.CollectedAt.UTC().Format("2 January 2006, 15:04 UTC")
	if s.RunID > 0 {
		return fmt.Sprintf("run %d (%s)", s.RunID, when)
	}
	return fmt.Sprintf("%s (%s)", s.File, when)
}
