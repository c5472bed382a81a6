// Package metrics shows audit schedule to Prometheus: the results of the last complete run by tenant,
// environment, rule, severity and status; what could not be audited; each run's time, duration and outcome;
// the requests to Entra, BAP and Dataverse with their answers and retries; and a health check of the scheduler
// loop. The application layer knows nothing of Prometheus: it tells a Metrics of its traffic through
// api.Observer, and the scheduler tells it of its runs.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/report"
)

// Namespace starts the name of every metric of the auditor.
const Namespace = "work365_audit"

// LateAfter is how long past a scheduled time (and its jitter) a run may not have started before /healthz
// says the scheduler is stuck: the loop checks the clock at least once a minute, so a healthy one is never
// that late.
const LateAfter = 5 * time.Minute

// Options configure a Metrics.
type Options struct {
	// Now is the scheduler's clock; nil is time.Now.
	Now func() time.Time
	// Jitter is the scheduler's longest start delay, which /healthz allows a run beyond its scheduled time.
	Jitter time.Duration
}

// Metrics holds what the scheduler shows: a Prometheus registry with the auditor's metrics and Go's, and the
// state /healthz reports. Its methods are safe for concurrent use, and do nothing on a nil *Metrics.
type Metrics struct {
	opts     Options
	registry *prometheus.Registry
	results  *resultsCollector

	requests *prometheus.CounterVec
	retries  *prometheus.CounterVec
	runs     *prometheus.CounterVec

	startTime, nextRun, inProgress                       prometheus.Gauge
	lastRun, lastDuration, lastExit, lastOK, lastSuccess prometheus.Gauge

	mu    sync.Mutex
	state health
	// shown says which gauges of times and outcomes are registered: each only once it has a value.
	shown map[prometheus.Collector]bool
}

// New makes the metrics of a scheduler that starts now.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m := &Metrics{
		opts:     opts,
		registry: prometheus.NewRegistry(),
		results:  newResultsCollector(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests sent to each service (entra: tokens; bap; dataverse), retries included, by the status code of the answer (none: no answer came)."},
			[]string{"service", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_retries_total",
			Help: "Requests to each service tried again after a throttled (429), failed (5xx) or unanswered attempt."},
			[]string{"service"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "runs_total",
			Help: "Scheduled runs that ended, by exit code (0 nothing failing, 3 failing results, 4 something not auditable, 1 the run failed)."},
			[]string{"exit_code"}),
		startTime:    gauge("scheduler_start_time_seconds", "When the scheduler started, in seconds since the Unix epoch."),
		nextRun:      gauge("next_run_timestamp_seconds", "The next scheduled run time (before its jitter), in seconds since the Unix epoch."),
		inProgress:   gauge("run_in_progress", "1 while a scheduled run is going, else 0."),
		lastRun:      gauge("last_run_timestamp_seconds", "When the last run ended, whatever its outcome, in seconds since the Unix epoch."),
		lastDuration: gauge("last_run_duration_seconds", "How long the last run took."),
		lastExit:     gauge("last_run_exit_code", "The exit code of the last run, as audit scan would have exited."),
		lastOK:       gauge("last_run_success", "1 when the last run reached its end and wrote its reports, whatever it found (exit code 0, 3 or 4), else 0."),
		lastSuccess:  gauge("last_success_timestamp_seconds", "When the last successful run ended, in seconds since the Unix epoch."),
	}
	for _, s := range api.Services {
		m.retries.WithLabelValues(string(s))
	}
	start := opts.Now()
	m.startTime.Set(seconds(start))
	m.state = health{Status: "ok", State: stateStarting, StartedAt: start.UTC()}
	m.shown = map[prometheus.Collector]bool{}
	m.registry.MustRegister(m.results, m.requests, m.retries, m.runs, m.startTime, m.inProgress,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics are registered, for tests and for whoever serves them another way.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves /metrics (the Prometheus text format, or OpenMetrics when asked) and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", m.serveHealth)
	return mux
}

// Exchange counts a request sent to a service with the status of its answer (0: none came). With Retry, it
// makes a Metrics an api.Observer.
func (m *Metrics) Exchange(s api.Service, status int) {
	if m == nil {
		return
	}
	code := "none"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(string(s), code).Inc()
}

// Retry counts a request to a service tried again.
func (m *Metrics) Retry(s api.Service) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(string(s)).Inc()
}

// Next records the scheduled time the scheduler now waits for.
func (m *Metrics) Next(t time.Time) {
	if m == nil {
		return
	}
	m.nextRun.Set(seconds(t))
	m.show(m.nextRun)
	m.mu.Lock()
	defer m.mu.Unlock()
	next := t.UTC()
	m.state.State, m.state.NextRun = stateWaiting, &next
}

// RunStarted records that a run started at t.
func (m *Metrics) RunStarted(t time.Time) {
	if m == nil {
		return
	}
	m.inProgress.Set(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	started := t.UTC()
	m.state.State, m.state.RunningSince = stateRunning, &started
}

// Run is a run that ended.
type Run struct {
	Started, Ended time.Time
	ExitCode       int
	// Report is the run's report, nil when it wrote none (it failed or was interrupted before).
	Report *report.Report
}

// RunFinished records a run's outcome and, when it wrote its report, its results, which replace those of the
// previous run: the series of an environment or tenant no longer in the report are gone.
func (m *Metrics) RunFinished(r Run) {
	if m == nil {
		return
	}
	success := r.Report != nil && (r.ExitCode == 0 || r.ExitCode == 3 || r.ExitCode == 4)
	if r.Report != nil {
		m.results.set(r.Report)
	}
	m.inProgress.Set(0)
	m.lastRun.Set(seconds(r.Ended))
	m.lastDuration.Set(r.Ended.Sub(r.Started).Seconds())
	m.lastExit.Set(float64(r.ExitCode))
	m.lastOK.Set(0)
	if success {
		m.lastOK.Set(1)
		m.lastSuccess.Set(seconds(r.Ended))
		m.show(m.lastSuccess)
	}
	m.show(m.lastRun, m.lastDuration, m.lastExit, m.lastOK)
	m.runs.WithLabelValues(strconv.Itoa(r.ExitCode)).Inc()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.Runs++
	m.state.RunningSince = nil
	m.state.LastRun = &runState{StartedAt: r.Started.UTC(), EndedAt: r.Ended.UTC(), ExitCode: r.ExitCode, Success: success}
	if success {
		ended := r.Ended.UTC()
		m.state.LastSuccess = &ended
	}
}

// Stop records that the scheduler loop has ended: /healthz answers 503 from then on.
func (m *Metrics) Stop() {
	if m == nil {
		return
	}
	m.inProgress.Set(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.Status, m.state.State, m.state.NextRun, m.state.RunningSince = "stopped", stateStopped, nil, nil
}

// show registers gauges the first time they have a value, so that a scrape never shows a time of 0 (1970)
// for something that has not happened yet.
func (m *Metrics) show(gs ...prometheus.Gauge) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range gs {
		if !m.shown[g] {
			m.shown[g] = true
			m.registry.MustRegister(g)
		}
	}
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
