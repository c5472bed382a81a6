package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/internal/termtext"
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
		before, after, err = diffRuns(ctx, o.historyPath, args)
	} else {
		if len(args) != 2 {
			return usageError("diff needs two snapshot or report files, or --history FILE to compare runs")
		}
		before, after, err = diffFiles(ctx, g, args, o)
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
		writeDriftText(&buf, d, after)
	}
	if _, err := g.stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if o.exitCode && len(d.NewFailures) > 0 {
		return &exitErr{Code: exitFailing}
	}
	return nil
}

// diffRuns reads two runs of a history: none given is previous and latest; one is that run and latest.
func diffRuns(ctx context.Context, path string, args []string) (drift.Scan, drift.Scan, error) {
	st, err := history.Open(ctx, path)
	if err != nil {
		return drift.Scan{}, drift.Scan{}, err
	}
	defer st.Close()
	refs := []string{"previous", "latest"}
	switch len(args) {
	case 1:
		refs[0] = args[0]
	case 2:
		refs = args
	}
	var scans [2]drift.Scan
	for i, ref := range refs {
		run, err := st.Resolve(ctx, ref)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, withCode(exitUsage, err)
		}
		sc, err := st.Scan(ctx, run.ID)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, err
		}
		scans[i] = *sc
	}
	return scans[0], scans[1], nil
}

// diffFiles reads two files, each a snapshot (evaluated) or a JSON report.
func diffFiles(ctx context.Context, g *globals, paths []string, o diffOptions) (drift.Scan, drift.Scan, error) {
	var cfg *config.Config
	if o.configPath != "" {
		var err error
		if cfg, err = config.LoadSettings(o.configPath); err != nil {
			return drift.Scan{}, drift.Scan{}, withCode(exitUsage, err)
		}
	}
	var scans [2]drift.Scan
	for i, p := range paths {
		rep, err := readScan(ctx, g, cfg, p, o.policyDirs)
		if err != nil {
			return drift.Scan{}, drift.Scan{}, err
		}
		scans[i] = drift.Scan{Report: rep, File: p}
	}
	return scans[0], scans[1], nil
}

// readScan reads a JSON report as it is, or evaluates a snapshot.
func readScan(ctx context.Context, g *globals, cfg *config.Config, path string, dirs []string) (*report.Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	var head struct {
		Results  json.RawMessage `json:"results"`
		Settings json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, usageError("%s is neither a snapshot nor a JSON report: %v", path, err)
	}
	if head.Results != nil {
		if err := report.ValidateJSON(raw); err != nil {
			return nil, usageError("%s: %v", path, err)
		}
		var r report.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, usageError("%s: %v", path, err)
		}
		return &r, nil
	}
	snap, err := snapshot.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	eng, err := audit.LoadEngine(ctx, cfg, dirs)
	if err != nil {
		return nil, err
	}
	ev, err := audit.Evaluate(ctx, g.deps(true), eng, cfg, snap, "high", audit.Sources(dirs))
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", path, err)
	}
	return ev.Report, nil
}

func scanName(s drift.Scan) string {
	when := s.Report.CollectedAt.UTC().Format("2 January 2006, 15:04 UTC")
	if s.RunID > 0 {
		return fmt.Sprintf("run %d (%s)", s.RunID, when)
	}
	return fmt.Sprintf("%s (%s)", s.File, when)
}

// writeDriftText writes a drift for a terminal; every cell is cleaned, the tabs between them are its own.
func writeDriftText(w io.Writer, d *report.Drift, after drift.Scan) {
	printf(w, "Changes from %s to %s\n", d.Baseline.Describe(), scanName(after))
	line := d.Line()
	if i := strings.LastIndex(line, " since "); i > 0 {
		line = line[:i]
	}
	printf(w, "%s\n", line)
	if e := d.Earlier(); e != "" {
		printf(w, "%s.\n", strings.ToUpper(e[:1])+e[1:])
	}
	now := after.Report.CollectedAt
	section := func(title string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = termtext.Clean(c)
			}
			fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
	var rows [][]string
	for _, x := range d.NewFailures {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, audit.OneLine(termtext.Clean(x.Message), 100)})
	}
	section("New failures", rows)
	rows = nil
	for _, x := range d.Resolved {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, "now " + strings.ReplaceAll(x.Status, "_", " ") + ", had failed for " + report.Age(x.FirstSeen, now)})
	}
	section("Resolved", rows)
	rows = nil
	for _, x := range d.Persisting {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, "first seen " + x.FirstSeen.UTC().Format("2006-01-02 15:04 UTC") + " (" + report.Age(x.FirstSeen, now) + ")"})
	}
	section("Persisting", rows)
	rows = nil
	for _, c := range d.Inventory {
		rows = append(rows, []string{c.Environment + " (" + c.Tenant + ")", c.Describe()})
	}
	section("Inventory changes", rows)
}
