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

	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// benchOptions are the flags of audit bench.
type benchOptions struct {
	out         string
	envs        int
	users       int
	appUsers    int
	latency     time.Duration
	limit       int
	concurrency int
	perEnv      int
	sample      int
	fixEnvs     int
	evalRuns    int
	opa         string
}

func newBenchCmd(g *globals) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure scan, evaluation and fix at scale against a generated tenant on the emulator",
		Long: `bench generates a tenant (by default 1,000 environments of 300 users, 50 of them application users,
with the usual roles in two business units and the evidence tables of every rule), serves it with the
emulator in a separate process with a per-request latency and Dataverse's concurrency limit, and measures
in one run:

  - the scan at the default concurrency: wall time, requests, the dependency depth D of one environment's
    requests, the lower bound max(D·t, N·R·t/C) and the ratio of the wall time to it;
  - the same scan at concurrency 1 on a sample, scaled, for the speed-up;
  - evaluation alone on the collected snapshot, against 'opa eval' on the same input and policies;
  - peak RSS of the scan process and its allocations per environment;
  - 'audit fix --apply' over generated environments that each need a few fixes, against its own bound.

The results go to --output as bench-<time>.json (the schema is in docs/performance.md) and a Markdown
table, which is also printed; 'audit bench compare OLD.json NEW.json' sets two runs side by side.
Each measured command runs in its own process, so the memory reported is that command's alone.
'opa eval' is built from the OPA module this binary uses (go build), unless --opa names a binary or
is "none". Run it from the repository root: 'make bench'.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runBench(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", ".bench", "directory for results and scratch files")
	cmd.Flags().IntVar(&o.envs, "environments", 1000, "environments in the generated tenant")
	cmd.Flags().IntVar(&o.users, "users", 300, "users per environment")
	cmd.Flags().IntVar(&o.appUsers, "app-users", 50, "application users among them")
	cmd.Flags().DurationVar(&o.latency, "latency", 100*time.Millisecond, "latency the emulator adds to every BAP and Dataverse request")
	cmd.Flags().IntVar(&o.limit, "limit", 52, "Dataverse's concurrent-request limit per environment (429 beyond it)")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 0, "requests in flight across all environments (default: collect.concurrency's default)")
	cmd.Flags().IntVar(&o.perEnv, "per-environment", 0, "requests in flight per environment (default: collect.per_environment's default)")
	cmd.Flags().IntVar(&o.sample, "sequential-sample", 50, "environments scanned at concurrency 1 for the speed-up (0 skips)")
	cmd.Flags().IntVar(&o.fixEnvs, "fix-environments", 100, "environments of the fix measurement (0 skips)")
	cmd.Flags().IntVar(&o.evalRuns, "eval-runs", 5, "evaluations of the snapshot (the median is reported)")
	cmd.Flags().StringVar(&o.opa, "opa", "", `opa binary for the comparison (default: built from the OPA module; "none" skips it)`)
	compare := &cobra.Command{
		Use:   "compare OLD.json NEW.json",
		Short: "Compare two benchmark results measure by measure",
		Args:  cobra.ExactArgs(2),
		RunE: runE(func(_ *cobra.Command, args []string) error {
			var a, b bench.Result
			if err := bench.ReadJSON(args[0], &a); err != nil {
				return withCode(exitUsage, err)
			}
			if err := bench.ReadJSON(args[1], &b); err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprint(g.stdout, bench.Compare(&a, &b))
			return nil
		}),
	}
	cmd.AddCommand(compare, newBenchServeCmd(g), newBenchScanCmd(g), newBenchEvalCmd(g), newBenchFixCmd(g))
	return cmd
}

func runBench(ctx context.Context, g *globals, o benchOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the audit binary: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	res, err := bench.Run(ctx, bench.Options{
		Exe: exe, Dir: o.out, Spec: bench.Spec{Environments: o.envs, Users: o.users, AppUsers: o.appUsers},
		Latency: o.latency, Limit: o.limit, Concurrency: o.concurrency, PerEnvironment: o.perEnv,
		DefaultConcurrency: config.DefaultConcurrency, DefaultPerEnvironment: config.DefaultPerEnvironment,
		Sample: o.sample, FixEnvironments: o.fixEnvs, EvalRuns: o.evalRuns, OPA: o.opa, Log: g.stderr, Version: toolVersion(),
	})
	if err != nil {
		return err
	}
	jsonPath, mdPath, err := bench.Save(o.out, res)
	if err != nil {
		return err
	}
	fmt.Fprint(g.stdout, bench.Markdown(res))
	fmt.Fprintf(g.stderr, "wrote %s and %s\n", jsonPath, mdPath)
	return nil
}

// benchChildOptions are the flags of the hidden processes the harness starts.
type benchChildOptions struct {
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

func newBenchServeCmd(g *globals) *cobra.Command {
	var o benchChildOptions
	cmd := &cobra.Command{
		Use: bench.CmdServe, Hidden: true, Args: cobra.NoArgs,
		Short: "Serve a generated tenant; answers stats, reset and quit on standard input",
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return bench.Serve(cmd.Context(), o.serve, g.stdin, g.stdout)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&o.serve.Spec.Environments, "environments", 1000, "environments")
	f.IntVar(&o.serve.Spec.Users, "users", 300, "users per environment")
	f.IntVar(&o.serve.Spec.AppUsers, "app-users", 50, "application users per environment")
	f.BoolVar(&o.serve.Spec.Fixable, "fixable", false, "environments that each need a few fixes")
	f.DurationVar(&o.serve.Latency, "latency", 100*time.Millisecond, "added latency")
	f.IntVar(&o.serve.ConcurrencyLimit, "limit", 52, "concurrent requests per environment")
	f.StringVar(&o.serve.Dir, "dir", ".", "directory for the CA certificate")
	return cmd
}

func addBenchChildFlags(cmd *cobra.Command, o *benchChildOptions) {
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file")
	f.StringSliceVar(&o.envs, "env", nil, "environment globs")
	f.IntVar(&o.concurrency, "concurrency", 0, "requests in flight")
	f.StringVar(&o.output, "output", "", "report directory")
	f.StringVar(&o.result, "result", "", "file for the measurements")
	f.StringVar(&o.snapshot, "snapshot", "", "snapshot file")
}

func newBenchScanCmd(g *globals) *cobra.Command {
	var o benchChildOptions
	cmd := &cobra.Command{
		Use: bench.CmdScan, Hidden: true, Args: cobra.NoArgs, Short: "Run audit scan and measure it",
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runBenchScan(cmd.Context(), g, o) }),
	}
	addBenchChildFlags(cmd, &o)
	cmd.Flags().BoolVar(&o.collectOnly, "collect-only", false, "stop after collecting")
	return cmd
}

func newBenchEvalCmd(g *globals) *cobra.Command {
	var o benchChildOptions
	cmd := &cobra.Command{
		Use: bench.CmdEval, Hidden: true, Args: cobra.NoArgs, Short: "Evaluate a snapshot repeatedly and measure it",
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runBenchEval(cmd.Context(), g, o) }),
	}
	addBenchChildFlags(cmd, &o)
	cmd.Flags().IntVar(&o.runs, "runs", 5, "evaluations")
	cmd.Flags().StringVar(&o.opaDir, "opa-dir", "", "directory for the policies, data and input of opa eval")
	return cmd
}

func newBenchFixCmd(g *globals) *cobra.Command {
	var o benchChildOptions
	cmd := &cobra.Command{
		Use: bench.CmdFix, Hidden: true, Args: cobra.NoArgs, Short: "Run audit fix --apply --yes and measure it",
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runBenchFix(cmd.Context(), g, o) }),
	}
	addBenchChildFlags(cmd, &o)
	return cmd
}

// instrumented returns globals whose HTTP client is the production one (as built for a real run), wrapped so
// that every request is traced and every new connection counted.
func instrumented(g *globals, cfg *config.Config) (*globals, *bench.Trace, *atomic.Int64) {
	hc := g.client(time.Duration(cfg.Collect.RequestTimeout))
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
	trace := bench.NewTrace(transportOf(hc.Transport))
	gi := *g
	gi.httpClient = &http.Client{Transport: trace, Timeout: hc.Timeout}
	return &gi, trace, &conns
}

func runBenchScan(ctx context.Context, g *globals, o benchChildOptions) error {
	start := time.Now()
	cfg, err := loadConfig(g, o.config)
	if err != nil {
		return err
	}
	gi, trace, conns := instrumented(g, cfg)
	gi.stdout, gi.stderr = io.Discard, io.Discard
	var run bench.ScanRun
	t := time.Now()
	eng, err := loadEngine(ctx, cfg, nil)
	if err != nil {
		return err
	}
	run.LoadPolicySeconds = time.Since(t).Seconds()
	s, err := newSession(gi, cfg, eng, o.envs, o.concurrency)
	if err != nil {
		return err
	}
	run.Concurrency, run.PerEnvironment = s.opts.Concurrency, cfg.Collect.PerEnvironment
	from := trace.Since()
	m := bench.NewMeter()
	snap, err := s.collect(ctx, true)
	if err != nil {
		return err
	}
	alloc, d := m.Stop()
	run.CollectAlloc, run.CollectSeconds = alloc, d.Seconds()
	run.Collect = bench.Summarise(bench.Between(trace.Records(), from, trace.Since()))
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
	for _, tg := range s.targets {
		st := tg.Client.Stats()
		run.ClientRequests += st.Requests
		run.Retries += st.Retries
		if src, ok := tg.Tokens.(*auth.Source); ok {
			run.TokenRequests += src.Requests()
		}
	}
	run.Connections = conns.Load()
	run.HTTP2, run.HTTP1 = trace.Protocols()
	if !o.collectOnly {
		t = time.Now()
		ev, err := evaluate(ctx, gi, eng, cfg, snap, "high", sources(nil))
		if err != nil {
			return err
		}
		run.EvaluateSeconds = time.Since(t).Seconds()
		run.PeakRSSEvaluate = bench.PeakRSS()
		t = time.Now()
		if err := writeReports(gi, ev, reportOptions{formats: "table,json", output: o.output, failOn: "high"}); err != nil {
			return err
		}
		run.ReportSeconds = time.Since(t).Seconds()
	}
	run.CommandSeconds = time.Since(start).Seconds()
	run.PeakRSS = bench.PeakRSS()
	if o.snapshot != "" {
		if err := saveSnapshot(o.snapshot, snap); err != nil {
			return err
		}
	}
	return bench.WriteJSON(o.result, run)
}

func runBenchEval(ctx context.Context, g *globals, o benchChildOptions) error {
	t := time.Now()
	eng, err := loadEngine(ctx, nil, nil)
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
		run.Statuses[r.Status]++
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

func runBenchFix(ctx context.Context, g *globals, o benchChildOptions) error {
	cfg, err := loadConfig(g, o.config)
	if err != nil {
		return err
	}
	gi, trace, _ := instrumented(g, cfg)
	gi.stdout, gi.stderr = io.Discard, io.Discard
	fo := fixOptions{configPath: o.config, envs: o.envs, concurrency: o.concurrency, apply: true, yes: true,
		report: reportOptions{formats: "json", output: o.output, failOn: "high", quiet: true}}
	var run bench.FixRun
	t := time.Now()
	s, ev, err := fixSession(ctx, gi, fo)
	if err != nil {
		return err
	}
	plan := fix.BuildPlan(ev.snap, ev.results, s.eng.Rules(), fo.planOptions(s))
	run.PlanSeconds = time.Since(t).Seconds()
	run.Environments, run.Steps = countEnvs(plan), plan.Automatic()
	run.Concurrency = s.cfg.Collect.Concurrency
	journal, err := fix.OpenJournal(filepath.Join(o.output, "fix-journal.jsonl"), "bench", "fix", toolVersion(), g.now)
	if err != nil {
		return err
	}
	defer journal.Close()
	// As applyPlan does, without the confirmation and the lock (the emulator is this run's alone).
	from := trace.Since()
	t = time.Now()
	ao := applyOptions(gi, s, journal)
	ao.Concurrency = s.cfg.Collect.Concurrency
	ao.VerifySandboxes = func(ctx context.Context, tenant string, ids []string) ([]string, error) {
		return verifySandboxes(ctx, gi, s, ev, tenant, ids, fo)
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
	if len(res.Touched) > 0 {
		snap, err := s.recollect(ctx, ev.snap, res.Touched)
		if err != nil {
			return err
		}
		if _, err := evaluate(ctx, gi, s.eng, s.cfg, snap, "high", nil); err != nil {
			return err
		}
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
		fmt.Fprintf(g.stderr, "fix steps failed: %s\n", strings.Join(msgs, "; "))
	}
	return bench.WriteJSON(o.result, run)
}
