package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// childOptions are the flags of the hidden processes the harness starts.
type childOptions struct {
	config      string
	envs        []string
	concurrency int
	output      string
	result      string
	snapshot    string
	collectOnly bool
	runs        int
	opaDir      string

	serve bench.ServeOptions
}

func newServeCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var o childOptions
	cmd := &cobra.Command{
		Use: bench.CmdServe, Hidden: true, Args: cobra.NoArgs,
		Short: "Serve a generated tenant; answers stats, reset and quit on standard input",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.Serve(cmd.Context(), o.serve, stdin, stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.serve.Spec.Environments, "environments", 1000, "environments")
	f.IntVar(&o.serve.Spec.Users, "users", 300, "users per environment")
	f.IntVar(&o.serve.Spec.AppUsers, "app-users", 50, "application users per environment")
	f.BoolVar(&o.serve.Spec.Fixable, "fixable", false, "environments that each need a few fixes")
	f.IntVar(&o.serve.Spec.Tenants, "tenants", 1, "tenants the environments are split between")
	f.Float64Var(&o.serve.Spec.Work365Share, "work365-share", 1, "share of environments that run Work 365")
	f.DurationVar(&o.serve.Latency, "latency", 100*time.Millisecond, "added latency")
	f.IntVar(&o.serve.ConcurrencyLimit, "limit", 52, "concurrent requests per environment")
	f.StringVar(&o.serve.Dir, "dir", ".", "directory for the CA certificate")
	return cmd
}

func addChildFlags(cmd *cobra.Command, o *childOptions) {
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file")
	f.StringSliceVar(&o.envs, "env", nil, "environment globs")
	f.IntVar(&o.concurrency, "concurrency", 0, "requests in flight")
	f.StringVar(&o.output, "output", "", "report directory")
	f.StringVar(&o.result, "result", "", "file for the measurements")
	f.StringVar(&o.snapshot, "snapshot", "", "snapshot file")
}

func newScanCmd() *cobra.Command {
	var o childOptions
	cmd := &cobra.Command{
		Use: bench.CmdScan, Hidden: true, Args: cobra.NoArgs, Short: "Run audit scan's path and measure it",
		RunE: func(cmd *cobra.Command, _ []string) error { return runScan(cmd.Context(), o) },
	}
	addChildFlags(cmd, &o)
	cmd.Flags().BoolVar(&o.collectOnly, "collect-only", false, "stop after collecting")
	return cmd
}

func newCollectCmd() *cobra.Command {
	var o childOptions
	cmd := &cobra.Command{
		Use: bench.CmdCollect, Hidden: true, Args: cobra.NoArgs, Short: "Run audit collect -o's path and measure it",
		RunE: func(cmd *cobra.Command, _ []string) error { return runCollect(cmd.Context(), o) },
	}
	addChildFlags(cmd, &o)
	return cmd
}

func newEvalCmd() *cobra.Command {
	var o childOptions
	cmd := &cobra.Command{
		Use: bench.CmdEval, Hidden: true, Args: cobra.NoArgs, Short: "Evaluate a snapshot repeatedly and measure it",
		RunE: func(cmd *cobra.Command, _ []string) error { return runEval(cmd.Context(), o) },
	}
	addChildFlags(cmd, &o)
	cmd.Flags().IntVar(&o.runs, "runs", 5, "evaluations")
	cmd.Flags().StringVar(&o.opaDir, "opa-dir", "", "directory for the policies, data and input of opa eval")
	return cmd
}

func newFixCmd(stderr io.Writer) *cobra.Command {
	var o childOptions
	cmd := &cobra.Command{
		Use: bench.CmdFix, Hidden: true, Args: cobra.NoArgs, Short: "Run audit fix --apply --yes's path and measure it",
		RunE: func(cmd *cobra.Command, _ []string) error { return runFix(cmd.Context(), o, stderr) },
	}
	addChildFlags(cmd, &o)
	return cmd
}

// instrumented returns the dependencies of a measured run: the production HTTP client (as built for a real
// run), wrapped so that every request is traced and every new connection counted; no output.
func instrumented(cfg *config.Config) (audit.Deps, *bench.Trace, *atomic.Int64) {
	hc := audit.Deps{}.Client(time.Duration(cfg.Collect.RequestTimeout))
	var conns atomic.Int64
	if tr, ok := hc.Transport.(*http.Transport); ok {
		dial := tr.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conns.Add(1)
			return dial(ctx, network, addr)
		}
	}
	trace := bench.NewTrace(audit.TransportOf(hc.Transport))
	deps := audit.Deps{Getenv: os.Getenv, HTTP: &http.Client{Transport: trace, Timeout: hc.Timeout}, Quiet: true, ToolVersion: version()}
	return deps, trace, &conns
}

// processStart is when this process began, for the time to its first request.
var processStart = time.Now()

// runScan measures audit scan's path: the session opens (the rules compile in the background), the tenants are
// read and each environment evaluated as it arrives (or, with --collect-only, only read), and the reports
// written as audit scan --format json,csv writes them.
func runScan(ctx context.Context, o childOptions) error {
	start := time.Now()
	cfg, err := audit.LoadConfig(o.config, os.Getenv)
	if err != nil {
		return err
	}
	deps, trace, conns := instrumented(cfg)
	var run bench.ScanRun
	s, err := audit.Open(ctx, deps, audit.Settings{Config: cfg, Envs: o.envs, Concurrency: o.concurrency, FailOn: "high"})
	if err != nil {
		return err
	}
	compiled := make(chan float64, 1)
	go func() {
		_, _ = s.Engine()
		compiled <- time.Since(start).Seconds()
	}()
	run.Concurrency, run.PerEnvironment = s.Concurrency(), cfg.Collect.PerEnvironment
	from := trace.Since()
	m := bench.NewMeter()
	var snap *snapshot.Snapshot
	var ev *audit.Evaluation
	if o.collectOnly {
		snap, err = s.Collect(ctx)
	} else if ev, err = s.ScanStreaming(ctx, ""); err == nil {
		snap = ev.Snapshot
	}
	if err != nil {
		return err
	}
	alloc, d := m.Stop()
	run.LoadPolicySeconds = <-compiled
	run.CollectAlloc, run.CollectSeconds = alloc, d.Seconds()
	recs := bench.Between(trace.Records(), from, trace.Since())
	run.Collect = bench.Summarise(recs)
	if len(recs) > 0 {
		run.FirstRequestSeconds = (trace.Started().Sub(processStart) + recs[0].Start).Seconds()
	}
	run.PeakRSSCollect = bench.PeakRSS()
	run.HeapAfterCollect = bench.LiveHeap()
	for _, tn := range snap.Tenants {
		for _, e := range tn.Environments {
			run.Environments++
			switch e.Status {
			case snapshot.StatusOK:
				run.OK++
			case snapshot.StatusError:
				run.Errors++
			}
		}
	}
	for _, tg := range s.Targets() {
		st := tg.Client.Stats()
		run.ClientRequests += st.Requests
		run.Retries += st.Retries
		if src, ok := tg.Tokens.(*auth.Source); ok {
			run.TokenRequests += src.Requests()
		}
	}
	run.Connections = conns.Load()
	run.HTTP2, run.HTTP1 = trace.Protocols()
	if ev != nil {
		run.PeakRSSEvaluate = bench.PeakRSS()
		t := time.Now()
		if err := writeReports(ev.Report, o.output); err != nil {
			return err
		}
		run.ReportSeconds = time.Since(t).Seconds()
	}
	run.CommandSeconds = time.Since(start).Seconds()
	run.PeakRSS = bench.PeakRSS()
	return bench.WriteJSON(o.result, run)
}

// runCollect measures audit collect -o: every environment read and written to the snapshot file.
func runCollect(ctx context.Context, o childOptions) error {
	start := time.Now()
	cfg, err := audit.LoadConfig(o.config, os.Getenv)
	if err != nil {
		return err
	}
	deps, _, _ := instrumented(cfg)
	s, err := audit.Open(ctx, deps, audit.Settings{Config: cfg, Envs: o.envs, Concurrency: o.concurrency})
	if err != nil {
		return err
	}
	snap, err := s.CollectTo(ctx, o.snapshot)
	if err != nil {
		return err
	}
	run := bench.ScanRun{CommandSeconds: time.Since(start).Seconds(), PeakRSS: bench.PeakRSS()}
	for _, tn := range snap.Tenants {
		run.Environments += len(tn.Environments)
	}
	return bench.WriteJSON(o.result, run)
}

// writeReports writes what audit scan --format json,csv writes.
func writeReports(rep *report.Report, dir string) error {
	fs, err := report.ParseList("json,csv")
	if err != nil {
		return err
	}
	_, err = report.WriteFiles(dir, fs, rep, report.Options{})
	return err
}

func runEval(ctx context.Context, o childOptions) error {
	t := time.Now()
	eng, err := audit.LoadEngine(ctx, nil, nil)
	if err != nil {
		return err
	}
	run := bench.EvalRun{PrepareSeconds: time.Since(t).Seconds(), Workers: eng.Workers(), Statuses: map[string]int{}}
	snap, err := snapshot.Load(o.snapshot)
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	for _, tn := range snap.Tenants {
		for _, e := range tn.Environments {
			run.Environments++
			if e.Status != snapshot.StatusError {
				run.Evaluated++
			}
		}
	}
	var results []policy.Result
	for i := 0; i < max(o.runs, 1); i++ {
		cpu := bench.CPUSeconds()
		m := bench.NewMeter()
		results, err = eng.Evaluate(ctx, snap, nil)
		if err != nil {
			return err
		}
		alloc, d := m.Stop()
		run.Seconds = append(run.Seconds, d.Seconds())
		run.CPUSeconds = append(run.CPUSeconds, bench.CPUSeconds()-cpu)
		run.Alloc = alloc
	}
	run.Results = len(results)
	for _, r := range results {
		run.Statuses[string(r.Status)]++
	}
	if o.opaDir != "" {
		b, err := eng.Batch(snap, results)
		if err != nil {
			return fmt.Errorf("opa eval input: %w", err)
		}
		if err := bench.WriteOPAEval(o.opaDir, b); err != nil {
			return fmt.Errorf("write opa eval input: %w", err)
		}
		run.OPAQuery = b.Query
	}
	return bench.WriteJSON(o.result, run)
}

// runFix measures audit fix --apply --yes: the same session, plan and apply as audit fix, without the
// confirmation and the lock (the emulator is this run's alone), and the verification after it.
func runFix(ctx context.Context, o childOptions, stderr io.Writer) error {
	cfg, err := audit.LoadConfig(o.config, os.Getenv)
	if err != nil {
		return err
	}
	deps, trace, _ := instrumented(cfg)
	var run bench.FixRun
	t := time.Now()
	s, err := audit.Open(ctx, deps, audit.Settings{Config: cfg, Envs: o.envs, Concurrency: o.concurrency})
	if err != nil {
		return err
	}
	ev, err := s.Scan(ctx)
	if err != nil {
		return err
	}
	plan := s.Plan(ev, audit.FixOptions{Envs: o.envs})
	run.PlanSeconds = time.Since(t).Seconds()
	run.Environments, run.Steps = audit.CountEnvs(plan), plan.Automatic()
	run.Concurrency = cfg.Collect.Concurrency
	journal, err := fix.OpenJournal(filepath.Join(o.output, "fix-journal.jsonl"), "bench", "fix", version(), time.Now)
	if err != nil {
		return err
	}
	defer journal.Close()
	from := trace.Since()
	t = time.Now()
	ao := s.ApplyOptions(journal)
	ao.Concurrency = cfg.Collect.Concurrency
	ao.VerifySandboxes = func(ctx context.Context, tenant string, ids []string) ([]string, error) {
		return s.VerifySandboxes(ctx, ev, tenant, ids)
	}
	res, err := fix.Apply(ctx, plan, ao)
	if err != nil {
		return err
	}
	run.ApplySeconds = time.Since(t).Seconds()
	recs := bench.Between(trace.Records(), from, trace.Since())
	run.Apply = bench.Summarise(recs)
	for _, r := range recs {
		if r.Method != http.MethodGet {
			run.Writes++
		}
	}
	counts := map[string]int{}
	for _, oc := range res.Outcomes {
		counts[oc.Status]++
	}
	run.Applied, run.Failed = counts[fix.OutcomeApplied], counts[fix.OutcomeFailed]
	for k, v := range counts {
		run.Outcomes = append(run.Outcomes, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(run.Outcomes)
	t = time.Now()
	if _, err := s.Verify(ctx, ev, res); err != nil {
		return err
	}
	run.VerifySeconds = time.Since(t).Seconds()
	run.PeakRSS = bench.PeakRSS()
	if run.Failed > 0 {
		var msgs []string
		for _, oc := range res.Outcomes {
			if oc.Status == fix.OutcomeFailed && len(msgs) < 3 {
				msgs = append(msgs, oc.Environment+": "+oc.Reason)
			}
		}
		fmt.Fprintf(stderr, "fix steps failed: %s\n", strings.Join(msgs, "; "))
	}
	return bench.WriteJSON(o.result, run)
}
