package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/metrics"
	"github.com/work365/audit/internal/schedule"
)

// scheduleOptions are the flags of audit schedule.
type scheduleOptions struct {
	scan    scanOptions
	cron    string
	tz      string
	jitter  time.Duration
	maxRuns int
	// metricsAddr serves Prometheus metrics and /healthz there (see metrics.ListenAddress).
	metricsAddr string
	// clock and random replace the wall clock and the jitter's randomness in tests.
	clock  schedule.Clock
	random func(n int64) int64
}

// runDirLayout names each run's report directory: its UTC start time, sortable and valid on every file system.
const runDirLayout = "2006-01-02T150405Z"

func newScheduleCmd(g *globals) *cobra.Command {
	var o scheduleOptions
	cmd := &cobra.Command{
		Use:   "schedule --cron EXPR",
		Short: "Run scans on a cron schedule in the foreground until interrupted",
		Long: `schedule runs 'audit scan' at the times a standard 5-field cron expression names (minute hour
day-of-month month day-of-week, e.g. "0 */6 * * *", read as Kubernetes reads CronJob schedules; @hourly,
@daily, @weekly are accepted; there is no seconds field), in this process, until SIGINT or SIGTERM. Each run is exactly a scan with the flags given
here; its reports go to a directory of its own, --output/<start time in UTC>/.

Runs never overlap: a run still going at the next scheduled time makes that time missed, not run late
or twice. Each start is delayed by a random part of --jitter, so that many schedulers on one expression
do not all call the services in the same second. A signal during a run stops it at once; with --history
the run is recorded as interrupted, never as a clean scan.

With --history (or the config's history.path) every run is compared with the previous one, prints its
drift in one line, includes it in its reports and sends the config's notifications.

--metrics-addr serves Prometheus metrics on /metrics (the last run's results, outcome and duration, what
could not be audited, the requests to Entra, BAP and Dataverse) and a health check on /healthz. It stays
on loopback unless told: ":9365" is 127.0.0.1:9365; "0.0.0.0:9365" serves every interface.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runSchedule(cmd.Context(), g, o) }),
	}
	s := &o.scan
	addCollectFlags(cmd, &s.configPath, &s.envs, &s.concurrency)
	addReportFlags(cmd, &s.report)
	if f := cmd.Flags().Lookup("format"); f != nil {
		f.DefValue = "json,html"
		_ = f.Value.Set("json,html")
	}
	cmd.Flags().Lookup("output").Usage = "directory under which each run writes its reports, in a directory named after its start time (default ./" + defaultReportDir + ")"
	cmd.Flags().StringSliceVar(&s.policyDirs, "policy-dir", nil, "directory of additional Rego policies (repeatable)")
	addScaleFlags(cmd, &s.history, &s.shard)
	cmd.Flags().StringVar(&o.cron, "cron", "", `when to scan: a standard 5-field cron expression, e.g. "0 */6 * * *" (required)`)
	cmd.Flags().StringVar(&o.tz, "tz", "", "time zone the expression is read in, e.g. UTC or Europe/London (default: local time)")
	cmd.Flags().DurationVar(&o.jitter, "jitter", time.Minute, "delay each start by a random duration up to this")
	cmd.Flags().IntVar(&o.maxRuns, "max-runs", 0, "stop after this many runs (0: run until interrupted)")
	cmd.Flags().StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics and /healthz on HOST:PORT (an empty host is 127.0.0.1; 0.0.0.0:9365 for every interface)")
	return cmd
}

func runSchedule(ctx context.Context, g *globals, o scheduleOptions) error {
	if o.cron == "" {
		return usageError("schedule needs --cron, e.g. --cron \"0 */6 * * *\"")
	}
	spec, err := schedule.Parse(o.cron)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var loc *time.Location
	if o.tz != "" {
		if loc, err = time.LoadLocation(o.tz); err != nil {
			return usageError("--tz %q: %v", o.tz, err)
		}
	}
	if o.jitter < 0 || o.maxRuns < 0 {
		return usageError("--jitter and --max-runs cannot be negative")
	}
	if o.scan.report.output == "-" {
		return usageError("--output - is not for schedule: every run writes its reports to a directory of its own")
	}
	if o.metricsAddr != "" {
		if _, err := metrics.ListenAddress(o.metricsAddr); err != nil {
			return withCode(exitUsage, err)
		}
	}
	clock := o.clock
	if clock == nil {
		clock = schedule.RealClock{}
	}
	// Every time a run records (reports, history, waivers' expiry) comes from the scheduler's clock.
	sg := *g
	sg.now = clock.Now
	var m *metrics.Metrics // nil without --metrics-addr: its methods then do nothing
	if o.metricsAddr != "" {
		m = metrics.New(metrics.Options{Now: clock.Now, Jitter: o.jitter})
		sg.observer = m
	}
	p, err := prepareScan(ctx, &sg, o.scan)
	if err != nil {
		return err
	}
	base := p.o.report.output
	if base == "" {
		base = defaultReportDir
	}
	now := clock.Now()
	if loc != nil {
		now = now.In(loc)
	}
	first := spec.Next(now)
	if first.IsZero() {
		return usageError("cron %q never comes in the next five years", o.cron)
	}
	if m != nil {
		srv, err := metrics.Serve(o.metricsAddr, m.Handler())
		if err != nil {
			return err
		}
		defer srv.Close()
		defer m.Stop()
		printf(g.stderr, "audit schedule: metrics at %s/metrics, health at %s/healthz%s\n", srv.URL(), srv.URL(),
			map[bool]string{false: " (not loopback only: tenant and environment names are in the metrics)"}[metrics.Loopback(srv.Addr)])
	}
	printf(g.stderr, "audit schedule: %q, first run at %s (start delayed by up to %s); reports in %s/<start time>/; SIGINT or SIGTERM stops\n",
		spec.String(), first.Format("2006-01-02 15:04 MST"), o.jitter, base)
	stopped := false
	err = schedule.Loop(ctx, schedule.Options{Spec: spec, Location: loc, Jitter: o.jitter, Clock: clock, Rand: o.random, MaxRuns: o.maxRuns, Next: m.Next},
		func(ctx context.Context, r schedule.Run) {
			if r.Missed > 0 {
				printf(g.stderr, "audit schedule: %s fell during the previous run and %s skipped\n",
					audit.Plural(r.Missed, "scheduled time", "scheduled times"), map[bool]string{true: "was", false: "were"}[r.Missed == 1])
			}
			ro := p.o.report
			ro.output = filepath.Join(base, r.Started.UTC().Format(runDirLayout))
			m.RunStarted(r.Started)
			rep, runErr := p.run(ctx, ro, "schedule")
			code := codeOf(runErr)
			m.RunFinished(metrics.Run{Started: r.Started, Ended: clock.Now(), ExitCode: code, Report: rep})
			var ee *exitErr
			if runErr != nil && (!errors.As(runErr, &ee) || ee.Err != nil) {
				fmt.Fprintf(g.stderr, "audit: run %d: %s\n", r.N, errorText(runErr))
			}
			if ctx.Err() != nil {
				stopped = true
				printf(g.stderr, "audit schedule: run %d interrupted; stopping\n", r.N)
				return
			}
			printf(g.stderr, "audit schedule: run %d (scheduled %s) exited %d (%s); reports in %s\n",
				r.N, r.Scheduled.Format("2006-01-02 15:04 MST"), code, exitMeaning(code), ro.output)
		})
	if err != nil {
		return err
	}
	if !stopped && ctx.Err() != nil {
		fmt.Fprintln(g.stderr, "audit schedule: stopped")
	}
	return nil
}
