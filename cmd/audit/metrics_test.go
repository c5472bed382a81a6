package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// scrape reads the families of the metrics at url, as Prometheus would, and lints them with Prometheus's rules.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	var list []*dto.MetricFamily
	for _, f := range fams {
		list = append(list, f)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	return fams
}

// series are a family's values by their labels, written name=value in label order.
func series(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		out[strings.Join(ls, ",")] = v
	}
	return out
}

// Two scheduled scans of the demo tenants on the emulator, with --metrics-addr on a port of the system's
// choosing and two 429s on one environment. Between the runs a scrape of the real endpoint shows the first
// run's results (as its JSON report has them), what could not be audited, its outcome and times, and the
// requests to each service (as many as the emulators received), and /healthz says the loop is waiting.
func TestScheduledRunsServeMetricsThatPrometheusReads(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	appendConfig(t, h, "collect:\n  retry_delay: 10ms\n")
	require.NoError(t, h.server("contoso").SetFaults("Contoso Production", emulator.Faults{Rules: []emulator.FaultRule{{Match: "GET systemusers", Status: 429, Count: 2}}}))
	clock := &fakeClock{now: testNow.Add(-30 * time.Minute)}
	o := scheduleOf(h, clock, 2)
	o.metricsAddr = "127.0.0.1:0"
	var base string
	clock.before = map[int]func(){2: func() {
		m := regexp.MustCompile(`metrics at (http://127\.0\.0\.1:\d+)/metrics, health at (http://127\.0\.0\.1:\d+)/healthz\n`).FindStringSubmatch(h.stderr.String())
		require.NotNil(t, m, h.stderr.String())
		base = m[1]
		rep := readReport(t, filepath.Join(h.dir, "runs", "2026-11-26T120100Z"))

		// The run's outcome and times (the fake clock stands still during a run), in the exposition format.
		require.NoError(t, testutil.ScrapeAndCompare(base+"/metrics", strings.NewReader(`
# HELP work365_audit_last_run_duration_seconds How long the last run took.
# TYPE work365_audit_last_run_duration_seconds gauge
work365_audit_last_run_duration_seconds 0
# HELP work365_audit_last_run_exit_code The exit code of the last run, as audit scan would have exited.
# TYPE work365_audit_last_run_exit_code gauge
work365_audit_last_run_exit_code 4
# HELP work365_audit_last_run_success 1 when the last run reached its end and wrote its reports, whatever it found (exit code 0, 3 or 4), else 0.
# TYPE work365_audit_last_run_success gauge
work365_audit_last_run_success 1
# HELP work365_audit_last_run_timestamp_seconds When the last run ended, whatever its outcome, in seconds since the Unix epoch.
# TYPE work365_audit_last_run_timestamp_seconds gauge
work365_audit_last_run_timestamp_seconds 1.79569446e+09
# HELP work365_audit_next_run_timestamp_seconds The next scheduled run time (before its jitter), in seconds since the Unix epoch.
# TYPE work365_audit_next_run_timestamp_seconds gauge
work365_audit_next_run_timestamp_seconds 1.795716e+09
# HELP work365_audit_runs_total Scheduled runs that ended, by exit code (0 nothing failing, 3 failing results, 4 something not auditable, 1 the run failed).
# TYPE work365_audit_runs_total counter
work365_audit_runs_total{exit_code="4"} 1
# HELP work365_audit_scheduler_start_time_seconds When the scheduler started, in seconds since the Unix epoch.
# TYPE work365_audit_scheduler_start_time_seconds gauge
work365_audit_scheduler_start_time_seconds 1.7956926e+09
# HELP work365_audit_tenant_unauditable 1 when the tenant's environment list could not be read in the last complete run (none of its environments were audited), else 0.
# TYPE work365_audit_tenant_unauditable gauge
work365_audit_tenant_unauditable{tenant="contoso"} 0
work365_audit_tenant_unauditable{tenant="fabrikam"} 0
`), "work365_audit_last_run_duration_seconds", "work365_audit_last_run_exit_code", "work365_audit_last_run_success",
			"work365_audit_last_run_timestamp_seconds", "work365_audit_next_run_timestamp_seconds", "work365_audit_runs_total",
			"work365_audit_scheduler_start_time_seconds", "work365_audit_tenant_unauditable"))

		// Every result and environment of the run's JSON report, and nothing else.
		fams := scrape(t, base+"/metrics")
		results, envs, unaudited := map[string]float64{}, map[string]float64{}, map[string]float64{}
		for _, r := range rep.Results {
			results[fmt.Sprintf("environment=%s,environment_id=%s,rule=%s,severity=%s,status=%s,tenant=%s",
				r.EnvironmentName, r.EnvironmentID, r.RuleID, r.Severity, r.Status, r.Tenant)]++
		}
		for _, tn := range rep.Tenants {
			for _, s := range []string{"error", "fail", "not_applicable", "pass"} {
				envs["status="+s+",tenant="+tn.Name] += 0
			}
		}
		for _, e := range rep.Environments {
			envs["status="+string(e.Status)+",tenant="+e.Tenant]++
			unaudited[fmt.Sprintf("environment=%s,environment_id=%s,tenant=%s", e.Name, e.ID, e.Tenant)] = map[bool]float64{true: 1}[e.CollectionStatus == snapshot.StatusError]
		}
		assert.Equal(t, results, series(fams["work365_audit_results"]))
		assert.Equal(t, envs, series(fams["work365_audit_environments"]))
		assert.Equal(t, unaudited, series(fams["work365_audit_environment_unauditable"]))
		assert.Equal(t, float64(1), unaudited["environment=Contoso Partner Portal,environment_id="+envID(t, rep, "Contoso Partner Portal")+",tenant=contoso"], "the auditor has no access there")

		// Traffic: the two 429s and their retries, and as many BAP and Dataverse requests as the emulators saw.
		requests := series(fams["work365_audit_http_requests_total"])
		assert.Equal(t, float64(2), requests["code=429,service=dataverse"])
		assert.Equal(t, map[string]float64{"service=bap": 0, "service=dataverse": 2, "service=entra": 0}, series(fams["work365_audit_http_retries_total"]))
		received, tokens := 0, 0
		for _, srv := range h.emu.Servers {
			st := srv.Stats()
			received += st.Requests
			for _, n := range st.TokenRequests {
				tokens += n
			}
		}
		var sent, entra float64
		for k, v := range requests {
			if strings.HasSuffix(k, "service=entra") {
				entra += v
			} else {
				sent += v
			}
		}
		assert.Equal(t, float64(received), sent, "BAP and Dataverse requests: %v", requests)
		assert.GreaterOrEqual(t, entra, float64(tokens), "every token issued was a request to Entra")
		assert.Positive(t, requests["code=200,service=bap"])

		// The health check: the loop is waiting for the next run, and says how the last one went.
		resp, err := http.Get(m[2] + "/healthz")
		require.NoError(t, err)
		defer resp.Body.Close()
		var health map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&health))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "waiting", health["state"])
		assert.Equal(t, "2026-11-26T18:00:00Z", health["next_run"])
		assert.Equal(t, map[string]any{"started_at": "2026-11-26T12:01:00Z", "ended_at": "2026-11-26T12:01:00Z", "exit_code": float64(4), "success": true}, health["last_run"])
	}}
	require.NoError(t, runSchedule(context.Background(), h.g, o))
	require.NotEmpty(t, base, "the scrape between the runs happened")
	_, err := http.Get(base + "/metrics")
	assert.Error(t, err, "the endpoint closes with the scheduler")
}
