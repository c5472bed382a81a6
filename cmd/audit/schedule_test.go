package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
)

const usAppID = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"

// fakeClock is the scheduler's clock in tests: sleeping moves it forward at once, and before[n] runs just
// before the n-th run (each run is preceded by exactly one sleep).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps int
	before map[int]func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps++
	n := c.sleeps
	c.now = c.now.Add(d)
	c.mu.Unlock()
	if f := c.before[n]; f != nil {
		f()
	}
	return ctx.Err()
}

// hookReceiver is a loopback webhook endpoint that records every notification by path.
type hookReceiver struct {
	mu     sync.Mutex
	bodies map[string][]map[string]any
	status int
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{bodies: map[string][]map[string]any{}, status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], body)
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// counts is how many notifications each path received.
func (r *hookReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for p, bs := range r.bodies {
		out[p] = len(bs)
	}
	return out
}

func (r *hookReceiver) last(path string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.bodies[path]
	if len(bs) == 0 {
		return nil
	}
	return bs[len(bs)-1]
}

// withEnv makes the harness's variables also answer vars.
func withEnv(h *harness, vars map[string]string) {
	getenv := h.g.getenv
	h.g.getenv = func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return getenv(k)
	}
}

// appendConfig adds YAML to the harness's config file.
func appendConfig(t *testing.T, h *harness, yaml string) {
	t.Helper()
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(mustRead(t, h.cfgPath)+yaml), 0o600))
}

// dataverseWrite sends a write to an environment's Dataverse Web API through the emulator, with a token of
// the tenant's client, as an administrator's change between two scans would.
func dataverseWrite(t *testing.T, h *harness, tenant, env, method, path string, body any) {
	t.Helper()
	srv := h.server(tenant)
	var clientID, secret string
	for _, tn := range h.emu.Config.Tenants {
		if tn.Name == tenant {
			clientID, secret = tn.ClientID, h.g.getenv(tn.ClientSecretEnv)
		}
	}
	hc := srv.HTTPClient()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {srv.DataverseScope(env)}}
	resp, err := hc.PostForm(srv.URL()+"/"+srv.TenantID()+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(t, tok.AccessToken)

	var rdr io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rdr = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, srv.InstanceURL(env)+"api/data/v9.2/"+path, rdr)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(req)
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s %s: %s", method, path, msg)
}

// appRole finds the application user of the US App ID in an environment and the copy of a role in its
// business unit.
func appRole(t *testing.T, h *harness, tenant, env, role string) (userID, roleID string) {
	t.Helper()
	srv := h.server(tenant)
	var bu any
	for _, u := range srv.Rows(env, "systemusers") {
		if u["applicationid"] == usAppID && u["deletedstate"] == 0 {
			userID, bu = u["systemuserid"].(string), u["_businessunitid_value"]
		}
	}
	for _, r := range srv.Rows(env, "roles") {
		if r["name"] == role && r["_businessunitid_value"] == bu {
			roleID = r["roleid"].(string)
		}
	}
	require.NotEmpty(t, userID)
	require.NotEmpty(t, roleID)
	return userID, roleID
}

func removeRole(t *testing.T, h *harness, env, role string) {
	user, r := appRole(t, h, "contoso", env, role)
	dataverseWrite(t, h, "contoso", env, http.MethodDelete, "systemusers("+user+")/systemuserroles_association("+r+")/$ref", nil)
}

func assignRole(t *testing.T, h *harness, env, role string) {
	user, r := appRole(t, h, "contoso", env, role)
	dataverseWrite(t, h, "contoso", env, http.MethodPost, "systemusers("+user+")/systemuserroles_association/$ref",
		map[string]string{"@odata.id": h.server("contoso").InstanceURL(env) + "api/data/v9.2/roles(" + r + ")"})
}

// scheduleOf is a schedule of the harness's config, every six hours, with a history and a fake clock.
func scheduleOf(h *harness, clock *fakeClock, runs int) scheduleOptions {
	return scheduleOptions{cron: "0 */6 * * *", tz: "UTC", jitter: 2 * time.Minute, maxRuns: runs, clock: clock,
		random: func(n int64) int64 { return n / 2 },
		scan: scanOptions{configPath: h.cfgPath, report: reportOptions{formats: "json,html,markdown", output: filepath.Join(h.dir, "runs"), failOn: "high"},
			history: audit.History{Path: filepath.Join(h.dir, "state", "history.db")}}}
}

func driftLines(d *report.Drift) []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, x := range d.NewFailures {
		out = append(out, "new "+x.Environment+" "+x.RuleID)
	}
	for _, x := range d.Resolved {
		out = append(out, "resolved "+x.Environment+" "+x.RuleID+" "+string(x.Status))
	}
	for _, c := range d.Inventory {
		out = append(out, c.Kind+" "+c.Environment+" "+c.Before+c.After)
	}
	sort.Strings(out)
	return out
}

// Three scheduled scans against the emulator, six hours apart on a fake clock: the second sees a role
// removed from the application user, the third sees it restored. Each run's reports carry the right drift,
// and the loopback receiver gets exactly the notifications each target asks for.
func TestScheduledScansRecordDriftAndSendExactlyTheExpectedNotifications(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	rcv := newHookReceiver(t)
	withEnv(h, map[string]string{"HOOK_URL": rcv.srv.URL + "/hook", "TEAMS_URL": rcv.srv.URL + "/teams", "SLACK_URL": rcv.srv.URL + "/slack"})
	appendConfig(t, h, `notify:
  - {name: feed, type: webhook, url_env: HOOK_URL, on: [new_failures, resolved, inventory], allow_private_targets: true}
  - {name: ops, type: teams, url_env: TEAMS_URL, allow_private_targets: true}
  - {name: alerts, type: slack, url_env: SLACK_URL, on: [new_failures], min_severity: high, allow_private_targets: true}
`)
	clock := &fakeClock{now: testNow.Add(-30 * time.Minute)}
	var seenBefore []map[string]int
	clock.before = map[int]func(){
		2: func() {
			seenBefore = append(seenBefore, rcv.counts())
			removeRole(t, h, "Contoso Production", "Work 365 Service")
		},
		3: func() {
			seenBefore = append(seenBefore, rcv.counts())
			assignRole(t, h, "Contoso Production", "Work 365 Service")
		},
	}
	o := scheduleOf(h, clock, 3)
	require.NoError(t, runSchedule(context.Background(), h.g, o))
	stderr := h.stderr.String()

	// One dated directory per run, at the scheduled time plus the jitter.
	dirs := []string{"2026-11-26T120100Z", "2026-11-26T180100Z", "2026-11-27T000100Z"}
	var reps []*report.Report
	for _, d := range dirs {
		rep := readReport(t, filepath.Join(h.dir, "runs", d))
		reps = append(reps, rep)
	}
	assert.Nil(t, reps[0].Drift, "the first run is the baseline")
	assert.Equal(t, []string{"new Contoso Production W365.ROLES.1", "role_removed Contoso Production Work 365 Service"}, driftLines(reps[1].Drift))
	assert.Equal(t, []string{"resolved Contoso Production W365.ROLES.1 pass", "role_added Contoso Production Work 365 Service"}, driftLines(reps[2].Drift))
	assert.Equal(t, int64(1), reps[1].Drift.Baseline.RunID)
	assert.Equal(t, int64(2), reps[2].Drift.Baseline.RunID)
	// Failures that persist keep the time they were first seen: the first run's.
	require.NotEmpty(t, reps[2].Drift.Persisting)
	for _, p := range reps[2].Drift.Persisting {
		assert.Equal(t, testNow.Add(time.Minute), p.FirstSeen, p.Environment+" "+p.RuleID)
		assert.Equal(t, int64(1), p.FirstSeenRun)
	}
	assert.Equal(t, reps[0].Summary.Results["fail"], reps[1].Drift.Summary.Persisting)
	md := mustRead(t, filepath.Join(h.dir, "runs", dirs[1], "report.md"))
	assert.Contains(t, md, "## Changed since the last scan\n\n1 new failure, 0 resolved,")
	assert.Contains(t, md, `- **Contoso Production** (contoso): role "Work 365 Service" removed from the application user`)
	assert.Contains(t, mustRead(t, filepath.Join(h.dir, "runs", dirs[2], "report.html")), `<tr data-drift="resolved"><th scope="row">Contoso Production</th>`)

	// The one-line drift of every run with a baseline.
	assert.Contains(t, stderr, "drift: run 1 is the first of its scope")
	assert.Contains(t, stderr, "drift: 1 new failure, 0 resolved, ")
	assert.Contains(t, stderr, "drift: 0 new failures, 1 resolved, ")
	assert.Contains(t, stderr, "audit schedule: run 3 (scheduled 2026-11-27 00:00 UTC) exited 4 (an environment could not be audited)")

	// Exactly the expected notifications: nothing after the first run; after the second the new failure to
	// all three targets; after the third the resolution to the two that ask for it (not to the Slack one).
	require.Len(t, seenBefore, 2)
	assert.Empty(t, seenBefore[0])
	assert.Equal(t, map[string]int{"/hook": 1, "/teams": 1, "/slack": 1}, seenBefore[1])
	assert.Equal(t, map[string]int{"/hook": 2, "/teams": 2, "/slack": 1}, rcv.counts())
	hook := rcv.last("/hook")
	assert.Equal(t, []any{"resolved", "inventory"}, hook["events"])
	assert.Equal(t, "W365.ROLES.1", hook["resolved"].([]any)[0].(map[string]any)["rule_id"])
	assert.Equal(t, float64(3), hook["run_id"])
	teams := rcv.last("/teams")
	assert.Equal(t, "application/vnd.microsoft.card.adaptive", teams["attachments"].([]any)[0].(map[string]any)["contentType"])

	// The history holds the three runs and what was sent after each.
	st, err := history.Open(context.Background(), o.scan.history.Path)
	require.NoError(t, err)
	defer st.Close()
	runs, err := st.Runs(context.Background())
	require.NoError(t, err)
	require.Len(t, runs, 3)
	for i, r := range runs {
		assert.Equal(t, history.StatusComplete, r.Status)
		assert.Equal(t, "schedule", r.Trigger)
		assert.Equal(t, exitUnaudited, r.ExitCode)
		assert.Equal(t, reps[i].CollectedAt, r.CollectedAt)
	}
	for id, want := range map[int64]int{1: 0, 2: 3, 3: 2} {
		ns, err := st.Notifications(context.Background(), id)
		require.NoError(t, err)
		assert.Len(t, ns, want, "run %d", id)
		for _, n := range ns {
			assert.Equal(t, "sent", n.Status)
		}
	}
	st.Close()

	// audit history and audit diff read the same store.
	require.Equal(t, exitOK, h.run("history", "--history", o.scan.history.Path), h.stderr.String())
	assert.Contains(t, h.stdout.String(), "3    2026-11-27 00:01:00  schedule  all    complete")
	assert.Contains(t, h.stdout.String(), "2 sent, 0 failed")
	require.Equal(t, exitFailing, h.run("diff", "--history", o.scan.history.Path, "1", "2", "--exit-code"), h.stderr.String())
	assert.Contains(t, h.stdout.String(), "Changes from run 1 (26 November 2026, 12:01 UTC) to run 2 (26 November 2026, 18:01 UTC)")
	assert.Contains(t, h.stdout.String(), `Contoso Production (contoso)  role "Work 365 Service" removed from the application user`)
	require.Equal(t, exitOK, h.run("diff", "--history", o.scan.history.Path, "--format", "json"), h.stderr.String())
	var d report.Drift
	require.NoError(t, json.Unmarshal(h.stdout.Bytes(), &d))
	assert.Equal(t, driftLines(reps[2].Drift), driftLines(&d), "previous..latest is the third run's drift")
}

// cancelOnDataverse cancels a context when it sees the first Dataverse request after being armed: a signal
// that arrives in the middle of a scheduled run.
type cancelOnDataverse struct {
	next   http.RoundTripper
	mu     sync.Mutex
	armed  bool
	cancel context.CancelFunc
}

func (c *cancelOnDataverse) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	fire := c.armed && strings.Contains(r.URL.Path, "/api/data/")
	if fire {
		c.armed = false
	}
	c.mu.Unlock()
	if fire {
		c.cancel()
	}
	return c.next.RoundTrip(r)
}

func TestASignalDuringAScheduledRunStopsItAndRecordsItAsInterrupted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &cancelOnDataverse{next: h.g.httpClient.Transport, cancel: cancel}
	hc := *h.g.httpClient
	hc.Transport = tr
	h.g.httpClient = &hc
	clock := &fakeClock{now: testNow.Add(-time.Hour), before: map[int]func(){2: func() {
		tr.mu.Lock()
		tr.armed = true
		tr.mu.Unlock()
	}}}
	o := scheduleOf(h, clock, 0)
	require.NoError(t, runSchedule(ctx, h.g, o), "a signal is a clean stop")
	assert.Contains(t, h.stderr.String(), "history: run 2 recorded as interrupted")
	assert.Contains(t, h.stderr.String(), "audit schedule: run 2 interrupted; stopping")

	st, err := history.Open(context.Background(), o.scan.history.Path)
	require.NoError(t, err)
	defer st.Close()
	runs, err := st.Runs(context.Background())
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, history.StatusComplete, runs[0].Status)
	assert.Equal(t, history.StatusInterrupted, runs[1].Status)
	assert.Nil(t, runs[1].Summary, "an interrupted run has no results")
	_, err = st.Report(context.Background(), 2)
	assert.Error(t, err)
	latest, err := st.Resolve(context.Background(), "latest")
	require.NoError(t, err)
	assert.Equal(t, int64(1), latest.ID, "the next run is compared with the last complete one")
	_, err = os.Stat(filepath.Join(h.dir, "runs", "2026-11-26T180100Z", "report.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "an interrupted run writes no report")
}

func TestScheduleRefusesWhatItCannotRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	for args, want := range map[string]string{
		"schedule --config CFG":                                    "schedule needs --cron",
		"schedule --config CFG --cron 0_0_*_*_*_*":                 "seconds are not supported",
		"schedule --config CFG --cron @daily --tz Mars/Olympus":    `--tz "Mars/Olympus"`,
		"schedule --config CFG --cron @daily --output -":           "--output - is not for schedule",
		"schedule --config CFG --cron @daily --shard 3/2":          `invalid argument "3/2" for "--shard"`,
		"schedule --config CFG --cron @daily --keep 3w":            `--keep "3w"`,
		"schedule --config CFG --cron @daily --metrics-addr a:b:c": `--metrics-addr "a:b:c"`,
	} {
		var argv []string
		for _, a := range strings.Fields(args) {
			argv = append(argv, strings.ReplaceAll(strings.ReplaceAll(a, "CFG", h.cfgPath), "_", " "))
		}
		assert.Equal(t, exitUsage, h.run(argv...), args)
		assert.Contains(t, h.stderr.String(), want, args)
	}
	assert.Zero(t, h.server("contoso").Stats().Requests, "nothing is scanned before the arguments are checked")
}
