package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/historyreport"
	"github.com/work365/audit/internal/policy"
)

// historyCmdOptions are the flags of audit history.
type historyCmdOptions struct {
	path       string
	configPath string
	report     reportOptions
}

func newHistoryCmd(g *globals) *cobra.Command {
	var o historyCmdOptions
	cmd := &cobra.Command{
		Use:   "history [list | show RUN | report]",
		Short: "List the runs kept by --history, show the report of one, or report on many",
		Long: `history lists the runs of a history store (audit scan --history FILE): when each started, how it
ended, its scope (shard, environment filters), its exit code and failing results, and the notifications
sent after it. 'history show RUN' writes the report that run recorded, in any format (RUN is a run ID,
latest or previous). 'history report' writes one report of many runs.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runHistoryList(cmd.Context(), g, o) }),
	}
	cmd.PersistentFlags().StringVar(&o.path, "history", "", "the history file (default: the config's history.path)")
	cmd.PersistentFlags().StringVarP(&o.configPath, "config", "c", "", "config file whose history.path to use")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the runs of the history",
		Args:  cobra.NoArgs,
		RunE:  runE(func(cmd *cobra.Command, _ []string) error { return runHistoryList(cmd.Context(), g, o) }),
	}
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Write the report a run recorded (RUN: an ID, latest or previous)",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(func(cmd *cobra.Command, args []string) error { return runHistoryShow(cmd.Context(), g, args[0], o) }),
	}
	addReportFlags(show, &o.report)
	if f := show.Flags().Lookup("format"); f != nil {
		f.DefValue = "table"
		_ = f.Value.Set("table")
	}
	cmd.AddCommand(list, show, newHistoryReportCmd(g, &o))
	return cmd
}

func newHistoryReportCmd(g *globals, h *historyCmdOptions) *cobra.Command {
	var o audit.HistoryReportOptions
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write one report of many runs: compliance over time, drift timeline, time to resolve, longest open",
		Long: `history report writes a static report of the history's runs (HTML, Markdown, JSON) for SharePoint, a wiki
or CI artifacts: compliance over time per tenant, environment and rule; what changed at each run; the time
from first seen to resolved; the findings open longest. --since counts back from the newest run, not from
today, so the same history gives the same report. docs/history-report.schema.json describes history.json.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			open := func() (*history.Store, error) { return openHistory(cmd.Context(), h.path, h.configPath) }
			_, err := audit.WriteHistoryReport(cmd.Context(), g.deps(o.Quiet), o, open, g.stdout)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.Since, "since", historyreport.DefaultWindow, "runs that started within this long of the newest run: Nd, Nw, Nm (months), Ny, or all")
	f.StringVar(&o.Formats, "format", "html", "comma-separated formats: "+strings.Join(historyreport.Names(), ", "))
	f.StringVarP(&o.Output, "output", "o", "", "directory for history.<ext> (default ./"+defaultReportDir+"); - writes one format to standard output")
	f.StringSliceVar(&o.Tenants, "tenant", nil, "only tenants whose name matches this glob (repeatable)")
	f.StringSliceVar(&o.Envs, "env", nil, "only environments whose name or ID matches this glob (repeatable)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "say nothing of the files written")
	return cmd
}

// openHistory opens the store named by --history or by the config's history.path.
func openHistory(ctx context.Context, path, configPath string) (*history.Store, error) {
	if path == "" && configPath != "" {
		cfg, err := config.LoadSettings(configPath)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		path = cfg.HistoryPath()
	}
	if path == "" {
		return nil, usageError("name the history: --history FILE, or --config with a history.path")
	}
	st, err := history.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func runHistoryList(ctx context.Context, g *globals, o historyCmdOptions) error {
	st, err := openHistory(ctx, o.path, o.configPath)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		printf(g.stdout, "%s holds no run yet\n", st.Path())
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED (UTC)\tTRIGGER\tSCOPE\tSTATUS\tEXIT\tFAILING\tNOT AUDITED\tNOTIFICATIONS")
	for _, r := range runs {
		failing, unaudited := "-", "-"
		if r.Summary != nil {
			failing = strconv.Itoa(r.Summary.Results[policy.StatusFail])
			unaudited = strconv.Itoa(r.Summary.Errors)
		}
		scope := r.Scope
		if scope == "" {
			scope = "all"
		}
		status := r.Status
		if r.Error != "" {
			status += ": " + audit.OneLine(r.Error, 60)
		}
		ns, err := st.Notifications(ctx, r.ID)
		if err != nil {
			return err
		}
		sent, failed := 0, 0
		for _, n := range ns {
			if n.Status == "sent" {
				sent++
			} else {
				failed++
			}
		}
		notes := "-"
		if len(ns) > 0 {
			notes = fmt.Sprintf("%d sent, %d failed", sent, failed)
		}
		printf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.Trigger, scope,
			status, r.ExitCode, failing, unaudited, notes)
	}
	return tw.Flush()
}

func runHistoryShow(ctx context.Context, g *globals, ref string, o historyCmdOptions) error {
	if err := o.report.validate(); err != nil {
		return err
	}
	st, err := openHistory(ctx, o.path, o.configPath)
	if err != nil {
		return err
	}
	defer st.Close()
	run, err := st.Resolve(ctx, ref)
	if err != nil {
		return withCode(exitUsage, err)
	}
	rep, err := st.Report(ctx, run.ID)
	if err != nil {
		return err
	}
	return writeReports(g, rep, o.report)
}
