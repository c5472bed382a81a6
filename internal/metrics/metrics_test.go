package metrics

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

var start = time.Date(2026, 11, 26, 11, 30, 0, 0, time.UTC)

// fakeNow is a clock that tests move.
type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

// twoTenants is a report of two tenants: contoso with a failing and a passing environment and one that could
// not be read, fabrikam whose environment list could not be read.
func twoTenants() *report.Report {
	res := func(env, id, rule, sev string, st policy.Status) policy.Result {
		return policy.Result{Tenant: "contoso", EnvironmentName: env, EnvironmentID: id, RuleID: rule, Severity: sev, Status: st}
	}
	return &report.Report{
		Tenants: []report.Tenant{{Name: "contoso", Environments: 3}, {Name: "fabrikam", Error: "list environments: 403"}},
		Environments: []report.Environment{
			{Tenant: "contoso", Name: "Production", ID: "e1", Status: policy.StatusFail, CollectionStatus: snapshot.StatusOK},
			{Tenant: "contoso", Name: "Sandbox", ID: "e2", Status: policy.StatusPass, CollectionStatus: snapshot.StatusOK},
			{Tenant: "contoso", Name: "Portal", ID: "e3", Status: policy.StatusError, CollectionStatus: snapshot.StatusError},
		},
		Results: []policy.Result{
			res("Production", "e1", "W365.ROLES.1", "critical", policy.StatusFail),
			res("Production", "e1", "W365.ROLES.3", "medium", policy.StatusFail),
			res("Production", "e1", "W365.ROLES.3", "medium", policy.StatusFail), // one rule, two objects
			res("Sandbox", "e2", "W365.ROLES.1", "critical", policy.StatusPass),
			res("Portal", "e3", "W365.ROLES.1", "critical", policy.StatusError),
		},
	}
}

const resultsExposition = `
# HELP work365_audit_environment_unauditable 1 when the environment could not be read in the last complete run (its results are error), else 0.
# TYPE work365_audit_environment_unauditable gauge
work365_audit_environment_unauditable{environment="Portal",environment_id="e3",tenant="contoso"} 1
work365_audit_environment_unauditable{environment="Production",environment_id="e1",tenant="contoso"} 0
work365_audit_environment_unauditable{environment="Sandbox",environment_id="e2",tenant="contoso"} 0
# HELP work365_audit_environments Environments of the last complete run by tenant and overall status: the worst of their results (error: could not be audited).
# TYPE work365_audit_environments gauge
work365_audit_environments{status="error",tenant="contoso"} 1
work365_audit_environments{status="error",tenant="fabrikam"} 0
work365_audit_environments{status="fail",tenant="contoso"} 1
work365_audit_environments{status="fail",tenant="fabrikam"} 0
work365_audit_environments{status="not_applicable",tenant="contoso"} 0
work365_audit_environments{status="not_applicable",tenant="fabrikam"} 0
work365_audit_environments{status="pass",tenant="contoso"} 1
work365_audit_environments{status="pass",tenant="fabrikam"} 0
# HELP work365_audit_results Results of the last complete run by tenant, environment, rule, severity and status (pass, fail, waived, not_applicable, error).
# TYPE work365_audit_results gauge
work365_audit_results{environment="Portal",environment_id="e3",rule="W365.ROLES.1",severity="critical",status="error",tenant="contoso"} 1
work365_audit_results{environment="Production",environment_id="e1",rule="W365.ROLES.1",severity="critical",status="fail",tenant="contoso"} 1
work365_audit_results{environment="Production",environment_id="e1",rule="W365.ROLES.3",severity="medium",status="fail",tenant="contoso"} 2
work365_audit_results{environment="Sandbox",environment_id="e2",rule="W365.ROLES.1",severity="critical",status="pass",tenant="contoso"} 1
# HELP work365_audit_tenant_unauditable 1 when the tenant's environment list could not be read in the last complete run (none of its environments were audited), else 0.
# TYPE work365_audit_tenant_unauditable gauge
work365_audit_tenant_unauditable{tenant="contoso"} 0
work365_audit_tenant_unauditable{tenant="fabrikam"} 1
`

const runExposition = `
# HELP work365_audit_last_run_duration_seconds How long the last run took.
# TYPE work365_audit_last_run_duration_seconds gauge
work365_audit_last_run_duration_seconds 95
# HELP work365_audit_last_run_exit_code The exit code of the last run, as audit scan would have exited.
# TYPE work365_audit_last_run_exit_code gauge
work365_audit_last_run_exit_code 4
# HELP work365_audit_last_run_success 1 when the last run reached its end and wrote its reports, whatever it found (exit code 0, 3 or 4), else 0.
# TYPE work365_audit_last_run_success gauge
work365_audit_last_run_success 1
# HELP work365_audit_last_run_timestamp_seconds When the last run ended, whatever its outcome, in seconds since the Unix epoch.
# TYPE work365_audit_last_run_timestamp_seconds gauge
work365_audit_last_run_timestamp_seconds 1.795694555e+09
# HELP work365_audit_last_success_timestamp_seconds When the last successful run ended, in seconds since the Unix epoch.
# TYPE work365_audit_last_success_timestamp_seconds gauge
work365_audit_last_success_timestamp_seconds 1.795694555e+09
# HELP work365_audit_next_run_timestamp_seconds The next scheduled run time (before its jitter), in seconds since the Unix epoch.
# TYPE work365_audit_next_run_timestamp_seconds gauge
work365_audit_next_run_timestamp_seconds 1.795716e+09
# HELP work365_audit_run_in_progress 1 while a scheduled run is going, else 0.
# TYPE work365_audit_run_in_progress gauge
work365_audit_run_in_progress 0
# HELP work365_audit_runs_total Scheduled runs that ended, by exit code (0 nothing failing, 3 failing results, 4 something not auditable, 1 the run failed).
# TYPE work365_audit_runs_total counter
work365_audit_runs_total{exit_code="4"} 1
# HELP work365_audit_scheduler_start_time_seconds When the scheduler started, in seconds since the Unix epoch.
# TYPE work365_audit_scheduler_start_time_seconds gauge
work365_audit_scheduler_start_time_seconds 1.7956926e+09
`

const httpExposition = `
# HELP work365_audit_http_requests_total HTTP requests sent to each service (entra: tokens; bap; dataverse), retries included, by the status code of the answer (none: no answer came).
# TYPE work365_audit_http_requests_total counter
work365_audit_http_requests_total{code="200",service="bap"} 1
work365_audit_http_requests_total{code="200",service="dataverse"} 2
work365_audit_http_requests_total{code="200",service="entra"} 2
work365_audit_http_requests_total{code="429",service="dataverse"} 1
work365_audit_http_requests_total{code="none",service="dataverse"} 1
# HELP work365_audit_http_retries_total Requests to each service tried again after a throttled (429), failed (5xx) or unanswered attempt.
# TYPE work365_audit_http_retries_total counter
work365_audit_http_retries_total{service="bap"} 0
work365_audit_http_retries_total{service="dataverse"} 2
work365_audit_http_retries_total{service="entra"} 0
`

var allNames = []string{
	"work365_audit_environment_unauditable", "work365_audit_environments", "work365_audit_results", "work365_audit_tenant_unauditable",
	"work365_audit_last_run_duration_seconds", "work365_audit_last_run_exit_code", "work365_audit_last_run_success",
	"work365_audit_last_run_timestamp_seconds", "work365_audit_last_success_timestamp_seconds", "work365_audit_next_run_timestamp_seconds",
	"work365_audit_run_in_progress", "work365_audit_runs_total", "work365_audit_scheduler_start_time_seconds",
	"work365_audit_http_requests_total", "work365_audit_http_retries_total",
}

// A scrape of /metrics after a run shows its results, its outcome and the traffic, in the exposition format
// Prometheus reads, and the metrics pass Prometheus's own lint.
func TestAScrapeShowsTheLastRunAndTheTraffic(t *testing.T) {
	t.Parallel()
	clock := &fakeNow{t: start}
	m := New(Options{Now: clock.now, Jitter: time.Minute})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	// Before any run: no results, no times of runs that have not happened, every retry counter at 0.
	require.NoError(t, testutil.ScrapeAndCompare(srv.URL+"/metrics", strings.NewReader(`
# HELP work365_audit_run_in_progress 1 while a scheduled run is going, else 0.
# TYPE work365_audit_run_in_progress gauge
work365_audit_run_in_progress 0
# HELP work365_audit_scheduler_start_time_seconds When the scheduler started, in seconds since the Unix epoch.
# TYPE work365_audit_scheduler_start_time_seconds gauge
work365_audit_scheduler_start_time_seconds 1.7956926e+09
`), allNames[:13]...))

	m.Next(start.Add(30 * time.Minute))
	m.RunStarted(start.Add(31 * time.Minute))
	for _, e := range []struct {
		s      api.Service
		status int
	}{{api.ServiceEntra, 200}, {api.ServiceBAP, 200}, {api.ServiceEntra, 200}, {api.ServiceDataverse, 429}, {api.ServiceDataverse, 0}, {api.ServiceDataverse, 200}, {api.ServiceDataverse, 200}} {
		m.Exchange(e.s, e.status)
	}
	m.Retry(api.ServiceDataverse)
	m.Retry(api.ServiceDataverse)
	m.RunFinished(Run{Started: start.Add(31 * time.Minute), Ended: start.Add(31*time.Minute + 95*time.Second), ExitCode: 4, Report: twoTenants()})
	m.Next(start.Add(6*time.Hour + 30*time.Minute))

	require.NoError(t, testutil.ScrapeAndCompare(srv.URL+"/metrics", strings.NewReader(resultsExposition+runExposition+httpExposition), allNames...))
	problems, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	assert.Empty(t, problems)

	// The Go runtime's and the process's own metrics are there too.
	n, err := testutil.GatherAndCount(m.Registry(), "go_goroutines")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// A run replaces the results of the one before it: an environment or tenant that is gone leaves no series. A
// run that wrote no report keeps the last complete run's results, and is not a success.
func TestEachRunReplacesTheResultsOfThePreviousOne(t *testing.T) {
	t.Parallel()
	m := New(Options{Now: func() time.Time { return start }})
	m.RunFinished(Run{Started: start, Ended: start, ExitCode: 4, Report: twoTenants()})
	assert.Equal(t, 4, testutil.CollectAndCount(m.results, "work365_audit_results"))

	rep := twoTenants()
	rep.Tenants = rep.Tenants[:1]
	rep.Environments = rep.Environments[1:2] // only Sandbox is left
	rep.Results = rep.Results[3:4]
	m.RunFinished(Run{Started: start, Ended: start.Add(time.Minute), ExitCode: 0, Report: rep})
	want := `
# HELP work365_audit_environment_unauditable 1 when the environment could not be read in the last complete run (its results are error), else 0.
# TYPE work365_audit_environment_unauditable gauge
work365_audit_environment_unauditable{environment="Sandbox",environment_id="e2",tenant="contoso"} 0
# HELP work365_audit_results Results of the last complete run by tenant, environment, rule, severity and status (pass, fail, waived, not_applicable, error).
# TYPE work365_audit_results gauge
work365_audit_results{environment="Sandbox",environment_id="e2",rule="W365.ROLES.1",severity="critical",status="pass",tenant="contoso"} 1
# HELP work365_audit_tenant_unauditable 1 when the tenant's environment list could not be read in the last complete run (none of its environments were audited), else 0.
# TYPE work365_audit_tenant_unauditable gauge
work365_audit_tenant_unauditable{tenant="contoso"} 0
`
	names := []string{"work365_audit_environment_unauditable", "work365_audit_results", "work365_audit_tenant_unauditable"}
	require.NoError(t, testutil.CollectAndCompare(m.results, strings.NewReader(want), names...))

	m.RunFinished(Run{Started: start.Add(time.Hour), Ended: start.Add(time.Hour + time.Minute), ExitCode: 1})
	require.NoError(t, testutil.CollectAndCompare(m.results, strings.NewReader(want), names...), "a failed run keeps the results")
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP work365_audit_last_run_success 1 when the last run reached its end and wrote its reports, whatever it found (exit code 0, 3 or 4), else 0.
# TYPE work365_audit_last_run_success gauge
work365_audit_last_run_success 0
# HELP work365_audit_last_success_timestamp_seconds When the last successful run ended, in seconds since the Unix epoch.
# TYPE work365_audit_last_success_timestamp_seconds gauge
work365_audit_last_success_timestamp_seconds 1.79569266e+09
# HELP work365_audit_runs_total Scheduled runs that ended, by exit code (0 nothing failing, 3 failing results, 4 something not auditable, 1 the run failed).
# TYPE work365_audit_runs_total counter
work365_audit_runs_total{exit_code="0"} 1
work365_audit_runs_total{exit_code="1"} 1
work365_audit_runs_total{exit_code="4"} 1
`), "work365_audit_last_run_success", "work365_audit_last_success_timestamp_seconds", "work365_audit_runs_total"))
}

func healthOf(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// /healthz is 200 while the scheduler loop is alive, 503 when a scheduled run is long overdue (the loop is
// stuck) or the loop has ended; its body says what the scheduler is doing and how the last run went.
func TestHealthzFollowsTheSchedulerLoop(t *testing.T) {
	t.Parallel()
	clock := &fakeNow{t: start}
	m := New(Options{Now: clock.now, Jitter: 2 * time.Minute})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	code, h := healthOf(t, srv.URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"status": "ok", "state": "starting", "started_at": "2026-11-26T11:30:00Z", "runs": float64(0)}, h)

	next := start.Add(30 * time.Minute)
	m.Next(next)
	clock.t = next.Add(2*time.Minute + LateAfter) // at the edge of lateness: still alive
	code, h = healthOf(t, srv.URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "waiting", h["state"])
	assert.Equal(t, "2026-11-26T12:00:00Z", h["next_run"])

	m.RunStarted(next.Add(time.Minute))
	clock.t = next.Add(3 * time.Hour) // a long run is not a stuck loop
	code, h = healthOf(t, srv.URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "running", h["state"])
	assert.Equal(t, "2026-11-26T12:01:00Z", h["running_since"])

	m.RunFinished(Run{Started: next.Add(time.Minute), Ended: clock.t, ExitCode: 3, Report: twoTenants()})
	m.Next(next.Add(6 * time.Hour))
	code, h = healthOf(t, srv.URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"started_at": "2026-11-26T12:01:00Z", "ended_at": "2026-11-26T15:00:00Z", "exit_code": float64(3), "success": true}, h["last_run"])
	assert.Equal(t, "2026-11-26T15:00:00Z", h["last_success"])
	assert.Equal(t, float64(1), h["runs"])

	clock.t = next.Add(6*time.Hour + 2*time.Minute + LateAfter + time.Second)
	code, h = healthOf(t, srv.URL)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "late", h["status"])
	assert.Contains(t, h["message"], "the run scheduled for 2026-11-26T18:00:00Z has not started 5m1s after its time")

	m.Stop()
	code, h = healthOf(t, srv.URL)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "stopped", h["status"])
	assert.Equal(t, "the scheduler loop has ended", h["message"])
}

func TestANilMetricsDoesNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	assert.NotPanics(t, func() {
		m.Exchange(api.ServiceBAP, 200)
		m.Retry(api.ServiceBAP)
		m.Next(start)
		m.RunStarted(start)
		m.RunFinished(Run{})
		m.Stop()
	})
}

func TestListenAddressStaysOnLoopbackUnlessTold(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]string{
		"127.0.0.1:9365": "127.0.0.1:9365",
		":9365":          "127.0.0.1:9365",
		"9400":           "127.0.0.1:9400",
		"localhost":      "localhost:9365",
		"[::1]:9365":     "[::1]:9365",
		"::1":            "[::1]:9365",
		"0.0.0.0:9365":   "0.0.0.0:9365",
		"[::]:9365":      "[::]:9365",
		"10.1.2.3":       "10.1.2.3:9365",
	} {
		got, err := ListenAddress(value)
		require.NoError(t, err, value)
		assert.Equal(t, want, got, value)
	}
	_, err := ListenAddress(" ")
	assert.ErrorContains(t, err, "--metrics-addr needs HOST:PORT")
	for _, bad := range []string{"[::1", "a:b:c", "::1]"} {
		_, err = ListenAddress(bad)
		assert.ErrorContains(t, err, `--metrics-addr "`+bad+`"`)
	}
}

// The real listener: on loopback by default, serving both paths, and closed by Close.
func TestServeListensAndCloses(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	s, err := Serve("127.0.0.1:0", m.Handler())
	require.NoError(t, err)
	assert.True(t, Loopback(s.Addr))
	resp, err := http.Get(s.URL() + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Post(s.URL()+"/metrics", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.NoError(t, s.Close())
	_, err = net.DialTimeout("tcp", s.Addr.String(), time.Second)
	assert.Error(t, err, "closed")
	assert.False(t, Loopback(&net.TCPAddr{IP: net.IPv4zero, Port: 9365}))
}
