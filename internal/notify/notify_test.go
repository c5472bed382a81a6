package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/report"
)

var at = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const secretPath = "/hooks/T000/B000/s3cr3t-webhook-token"

// receiver records what it is sent and answers with the statuses queued, then 200.
type receiver struct {
	mu       sync.Mutex
	bodies   map[string][]map[string]any
	statuses []int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{bodies: map[string][]map[string]any{}, statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], body)
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		// A service that echoes the request line must not get the secret into an error either.
		_, _ = io.WriteString(w, "rejected POST "+req.URL.Path)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(kind string) string { return r.srv.URL + secretPath + "/" + kind }

func (r *receiver) received(kind string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[secretPath+"/"+kind]
}

func drift() *report.Drift {
	return &report.Drift{
		Baseline: report.Baseline{RunID: 1, CollectedAt: at.Add(-6 * time.Hour)},
		NewFailures: []report.DriftResult{
			{Tenant: "contoso", EnvironmentID: "e1", Environment: "<b>Prod</b> *x* & [y](z)", RuleID: "W365.ROLES.2", Title: "Portal role",
				Severity: "high", Status: "fail", Message: "missing", FirstSeen: at, FirstSeenRun: 2},
			{Tenant: "contoso", EnvironmentID: "e1", Environment: "Prod", RuleID: "W365.BIND.1", Title: "Flows", Severity: "medium", Status: "fail", FirstSeen: at},
		},
		Resolved: []report.DriftResult{{Tenant: "contoso", EnvironmentID: "e2", Environment: "Sandbox", RuleID: "W365.ROLES.1", Title: "Service role",
			Severity: "critical", Status: "pass", FirstSeen: at.Add(-72 * time.Hour)}},
		Persisting: []report.DriftResult{},
		Inventory:  []report.InventoryChange{{Kind: report.RoleRemoved, Tenant: "contoso", EnvironmentID: "e1", Environment: "Prod", Before: "Work 365 Portal Service"}},
	}
}

func message() Message {
	return Message{RunID: 2, Tenants: []string{"contoso"}, At: at, Drift: drift(), Verdict: "1 result fails at or above high."}
}

func instant(sleeps *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		*sleeps = append(*sleeps, d)
		return nil
	}
}

func TestEachTargetGetsItsPayloadForTheEventsItAsksFor(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := &Sender{}
	out := s.Send(context.Background(), []Target{
		{Name: "hook", Type: "webhook", URL: rcv.url("webhook"), AllowPrivate: true, Events: []string{EventNewFailures, EventResolved, EventInventory}},
		{Name: "teams", Type: "teams", URL: rcv.url("teams"), AllowPrivate: true, Events: []string{EventNewFailures}, MinSeverity: "high"},
		{Name: "slack", Type: "slack", URL: rcv.url("slack"), AllowPrivate: true, Events: []string{EventResolved}},
		{Name: "quiet", Type: "slack", URL: rcv.url("quiet"), AllowPrivate: true, Events: []string{EventResolved}, MinSeverity: "critical"},
		{Name: "none", Type: "webhook", URL: rcv.url("none"), AllowPrivate: true, Events: []string{EventInventory}, MinSeverity: "critical"},
	}, message())
	require.Len(t, out, 5)
	for _, o := range out {
		assert.True(t, o.Sent, o.Target)
		assert.NoError(t, o.Err, o.Target)
		assert.Equal(t, 1, o.Attempts, o.Target)
	}
	assert.Equal(t, []string{"new_failures", "resolved", "inventory"}, out[0].Events)
	assert.Equal(t, []string{"new_failures"}, out[1].Events)
	assert.Equal(t, []string{"resolved"}, out[2].Events)
	assert.Equal(t, []string{"resolved"}, out[3].Events)
	assert.Equal(t, []string{"inventory"}, out[4].Events, "inventory changes have no severity")

	hook := rcv.received("webhook")
	require.Len(t, hook, 1)
	assert.Equal(t, "Work 365 audit: 2 new failures, 1 failure resolved, 1 inventory change", hook[0]["text"])
	assert.Equal(t, float64(2), hook[0]["run_id"])
	assert.Len(t, hook[0]["new_failures"], 2)
	assert.Equal(t, "W365.ROLES.1", hook[0]["resolved"].([]any)[0].(map[string]any)["rule_id"])
	assert.Equal(t, "role_removed", hook[0]["inventory"].([]any)[0].(map[string]any)["kind"])

	teams := rcv.received("teams")
	require.Len(t, teams, 1)
	att := teams[0]["attachments"].([]any)[0].(map[string]any)
	assert.Equal(t, "application/vnd.microsoft.card.adaptive", att["contentType"])
	card := att["content"].(map[string]any)
	assert.Equal(t, "AdaptiveCard", card["type"])
	assert.Equal(t, "1.4", card["version"])
	var texts []string
	for _, b := range card["body"].([]any) {
		texts = append(texts, b.(map[string]any)["text"].(string))
	}
	all := strings.Join(texts, "\n")
	assert.Contains(t, all, "Work 365 audit: 1 new failure", "medium failures are below the target's threshold")
	assert.Contains(t, all, `- &lt;b&gt;Prod&lt;/b&gt; \*x\* & \[y\](z) · W365.ROLES.2 · Portal role (high)`)
	assert.NotContains(t, all, "W365.BIND.1")

	slack := rcv.received("slack")
	require.Len(t, slack, 1)
	assert.Equal(t, "Work 365 audit: 1 failure resolved", slack[0]["text"])
	blocks := slack[0]["blocks"].([]any)
	assert.Equal(t, "header", blocks[0].(map[string]any)["type"])
	raw, _ := json.Marshal(blocks)
	assert.Contains(t, string(raw), "Sandbox · W365.ROLES.1 · Service role (critical) — now pass, failing for 3 days")

	assert.Len(t, rcv.received("quiet"), 1)
	assert.Len(t, rcv.received("none"), 1)
}

func TestNothingIsSentWhenNothingTheTargetAsksForHappened(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	m := message()
	m.Drift.NewFailures = nil
	out := (&Sender{}).Send(context.Background(), []Target{{Name: "hook", Type: "webhook", URL: rcv.url("webhook"), AllowPrivate: true, Events: []string{EventNewFailures}}}, m)
	assert.Equal(t, []Outcome{{Target: "hook", Type: "webhook"}}, out)
	m.Drift = nil // the first scan of a history: no baseline, nothing to tell
	out = (&Sender{}).Send(context.Background(), []Target{{Name: "hook", Type: "webhook", URL: rcv.url("webhook"), AllowPrivate: true, Events: []string{EventResolved}}}, m)
	assert.False(t, out[0].Sent)
	assert.Empty(t, rcv.received("webhook"))
}

func TestFailedSendsAreRetriedAndTheirErrorsNeverCarryTheURL(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 500, 429, 200)
	var sleeps []time.Duration
	s := &Sender{Sleep: instant(&sleeps)}
	target := Target{Name: "hook", Type: "webhook", URL: rcv.url("webhook"), AllowPrivate: true, Events: []string{EventNewFailures}, Retries: 3}
	out := s.Send(context.Background(), []Target{target}, message())
	assert.True(t, out[0].Sent)
	assert.Equal(t, 3, out[0].Attempts)
	assert.Equal(t, []time.Duration{time.Second, 7 * time.Second}, sleeps, "backoff, then the Retry-After the service gave")

	// A refusal is final; exhausted retries say how many attempts were made. Neither names the URL.
	rcv2 := newReceiver(t, 400, 503, 503)
	sleeps = nil
	out = s.Send(context.Background(), []Target{
		{Name: "bad", Type: "slack", URL: rcv2.url("slack"), AllowPrivate: true, Events: []string{EventNewFailures}, Retries: 3},
		{Name: "down", Type: "teams", URL: rcv2.url("teams"), AllowPrivate: true, Events: []string{EventNewFailures}, Retries: 1},
	}, message())
	require.Error(t, out[0].Err)
	assert.Equal(t, 1, out[0].Attempts)
	assert.Contains(t, out[0].Err.Error(), "after 1 attempt: HTTP 400: rejected POST [webhook URL]")
	require.Error(t, out[1].Err)
	assert.Equal(t, 2, out[1].Attempts)
	assert.Contains(t, out[1].Err.Error(), "after 2 attempts: HTTP 503")

	// A receiver that is gone, and one that never answers.
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stuck.Close()
	defer close(release)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	out = s.Send(context.Background(), []Target{
		{Name: "gone", Type: "webhook", URL: gone.URL + secretPath, AllowPrivate: true, Events: []string{EventNewFailures}},
		{Name: "stuck", Type: "webhook", URL: stuck.URL + secretPath, AllowPrivate: true, Events: []string{EventNewFailures}, Timeout: 20 * time.Millisecond},
	}, message())
	require.Error(t, out[0].Err)
	assert.Contains(t, out[0].Err.Error(), "connection refused")
	assert.Contains(t, out[1].Err.Error(), "no answer within the timeout")
	for _, o := range out {
		assert.NotContains(t, o.Err.Error(), "s3cr3t", o.Target)
		assert.NotContains(t, o.Err.Error(), "/hooks/", o.Target)
	}
}

func TestOnlyHTTPSURLsOrLoopbackAreUsed(t *testing.T) {
	t.Parallel()
	assert.NoError(t, CheckURL("https://contoso.webhook.office.com/webhookb2/x", false))
	assert.NoError(t, CheckURL("http://127.0.0.1:8080/hook", true))
	assert.NoError(t, CheckURL("http://localhost/hook", true))
	for raw, want := range map[string]string{
		"":                                  "empty or not set",
		"hooks.slack.com/services/T0/B0/x":  "not hold an absolute URL",
		"http://hooks.slack.com/services/x": "not https",
		"https://me:pw@hooks.example.com/x": "user name or password",
	} {
		err := CheckURL(raw, true)
		if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), want)
			if raw != "" {
				assert.NotContains(t, err.Error(), raw)
			}
		}
	}
	out := (&Sender{}).Send(context.Background(), []Target{{Name: "plain", Type: "slack", URL: "http://hooks.slack.com/services/T0/B0/x",
		Events: []string{EventNewFailures}}}, message())
	assert.False(t, out[0].Sent)
	assert.Equal(t, 0, out[0].Attempts)
	assert.ErrorContains(t, out[0].Err, "not https")
}

// Without allow_private_targets, a webhook that points at (or resolves to) a loopback, private or link-local
// address is refused before anything is sent: a webhook URL must not reach internal services or cloud metadata.
func TestPrivateTargetsAreRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest",
		"https://[::1]/hook", "https://[fd00::1]/hook", "https://192.168.1.10/hook", "https://100.64.0.1/hook"} {
		err := CheckURL(raw, false)
		if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), "allow_private_targets")
		}
	}
	rcv := newReceiver(t)
	out := (&Sender{}).Send(context.Background(), []Target{{Name: "local", Type: "webhook", URL: rcv.url("webhook"), Events: []string{EventNewFailures}}}, message())
	assert.False(t, out[0].Sent)
	assert.ErrorContains(t, out[0].Err, "allow_private_targets")
	assert.Empty(t, rcv.received("webhook"), "nothing reached the receiver")

	// The dialer checks the address it connects to, whatever name led there.
	client := DefaultClient(false)
	_, err := client.Post(rcv.srv.URL, "application/json", strings.NewReader("{}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "allow_private_targets")
}

// A redirect is followed only within the same scheme, host and port: the body carries tenant data.
func TestRedirectsElsewhereAreNotFollowed(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, secretPath+"/kept", http.StatusTemporaryRedirect)
		default:
			http.Redirect(w, r, rcv.url("elsewhere"), http.StatusTemporaryRedirect)
		}
	}))
	defer moved.Close()
	// The same server answers the redirected path itself.
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			http.Redirect(w, r, "/landed", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer same.Close()
	out := (&Sender{}).Send(context.Background(), []Target{
		{Name: "away", Type: "webhook", URL: moved.URL + "/away", AllowPrivate: true, Events: []string{EventNewFailures}},
		{Name: "same", Type: "webhook", URL: same.URL + "/same", AllowPrivate: true, Events: []string{EventNewFailures}},
	}, message())
	require.Error(t, out[0].Err)
	assert.Contains(t, out[0].Err.Error(), "redirected to another host")
	assert.Empty(t, rcv.received("elsewhere"), "the body never reached the other host")
	assert.True(t, out[1].Sent, "%v", out[1].Err)
}
