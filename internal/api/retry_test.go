package api

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const throttled = `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`

// A Retry-After under the ceiling is waited for even when it is long (service protection asks for minutes); one
// above it ends the request at once with an error that names the wait, instead of sleeping through it.
func TestRetryAfterIsHonouredUpToItsCeiling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		retryAfter string
		ceiling    time.Duration
		wantWait   time.Duration
		wantErr    string
	}{
		{name: "three minutes under the default ceiling", retryAfter: "180", wantWait: 3 * time.Minute},
		{name: "at the ceiling", retryAfter: "60", ceiling: time.Minute, wantWait: time.Minute},
		{name: "above the ceiling", retryAfter: "450", wantErr: "a retry would wait 7m30s, longer than the 5m0s ceiling on Retry-After (collect.max_retry_after)"},
		{name: "above a configured ceiling", retryAfter: "90", ceiling: time.Minute, wantErr: "a retry would wait 1m30s, longer than the 1m0s ceiling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					writeJSON(w, 429, throttled)
					return
				}
				writeJSON(w, 200, string(payload(t, "whoami.json")))
			})
			c.MaxRetryAfter = tc.ceiling
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				var we *WaitError
				require.True(t, errors.As(err, &we))
				assert.Equal(t, 429, StatusOf(err), "the answer that asked for the wait stays in the chain")
				assert.Empty(t, waits, "a wait above the ceiling is never started")
				assert.Equal(t, int32(1), calls.Load())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []time.Duration{tc.wantWait}, waits)
		})
	}
}

// Retry-After in its HTTP-date form is honoured as well as in seconds.
func TestRetryAfterAsAnHTTPDate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			writeJSON(w, 429, throttled)
			return
		}
		writeJSON(w, 200, string(payload(t, "whoami.json")))
	})
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	require.NoError(t, dv.Get(context.Background(), "WhoAmI", &struct{}{}))
	require.Len(t, waits, 1)
	assert.InDelta(t, 90*time.Second, waits[0], float64(2*time.Second), "the date is read relative to now (HTTP dates have whole seconds)")
}

// A request's waits add up to at most MaxWait; the retry that would exceed it is not waited for.
func TestWaitsOfOneRequestStayWithinItsBudget(t *testing.T) {
	t.Parallel()
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "240")
		writeJSON(w, 429, throttled)
	})
	c.MaxWait = 10 * time.Minute
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
	require.Error(t, err)
	assert.Equal(t, []time.Duration{4 * time.Minute, 4 * time.Minute}, waits, "a third wait of 4m would take the request past 10m")
	assert.Contains(t, err.Error(), "beyond the 10m0s one request may wait in all (collect.max_retry_wait; 8m0s waited already)")
}

// A wait that would end after the deadline of the work (an environment's timeout) is not started.
func TestNoWaitOutlivesTheDeadline(t *testing.T) {
	t.Parallel()
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		writeJSON(w, 429, throttled)
	})
	slept := false
	c.Sleep = func(context.Context, time.Duration) error { slept = true; return nil }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := dv.Get(ctx, "WhoAmI", &struct{}{})
	require.Error(t, err)
	assert.False(t, slept)
	assert.Contains(t, err.Error(), "past the deadline of this work (collect.timeout)")
}

// Without Retry-After the backoff doubles from BaseBackoff (with jitter between half and the whole), and a
// persistent 503 stops after exactly MaxAttempts tries.
func TestBackoffDoublesAndAttemptsAreBounded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 503, `{"error":{"code":"0x80040216","message":"unavailable"}}`)
	})
	c.MaxAttempts, c.BaseBackoff = 5, time.Second
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
	require.Error(t, err)
	assert.Equal(t, 503, StatusOf(err))
	assert.Equal(t, int32(5), calls.Load())
	require.Len(t, waits, 4)
	for i, w := range waits {
		full := time.Second << i
		assert.GreaterOrEqual(t, w, full/2, "wait %d", i)
		assert.LessOrEqual(t, w, full, "wait %d", i)
	}
}

// Updates carry If-Match: *, so that a PATCH to a row deleted in the meantime answers 404 instead of creating one.
func TestPatchSendsIfMatchStar(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got[r.Method] = r.Header.Get("If-Match")
		w.WriteHeader(http.StatusNoContent)
	})
	ctx := context.Background()
	_, err := dv.Write(ctx, http.MethodPatch, "systemusers(00000000-0000-0000-0000-000000000001)", map[string]any{"isdisabled": false}, nil)
	require.NoError(t, err)
	_, err = dv.Write(ctx, http.MethodPost, "systemusers", map[string]any{"accessmode": 4}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{http.MethodPatch: "*", http.MethodPost: ""}, got)
}

// Reads of a client made WithFormattedValues ask for formatted values beside the page size.
func TestFormattedValuesAreAskedForInPrefer(t *testing.T) {
	t.Parallel()
	var prefer []string
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		prefer = append(prefer, r.Header.Get("Prefer"))
		writeJSON(w, 200, `{"value":[]}`)
	})
	ctx := context.Background()
	require.NoError(t, Each(ctx, dv, "businessunits", func(map[string]any) error { return nil }))
	require.NoError(t, Each(ctx, dv.WithFormattedValues(), "businessunits", func(map[string]any) error { return nil }))
	assert.Equal(t, []string{"odata.maxpagesize=5000", `odata.maxpagesize=5000,odata.include-annotations="OData.Community.Display.V1.FormattedValue"`}, prefer)
}

// EachLink follows a link of the organization and refuses one that leaves it.
func TestEachLinkStaysInTheOrganization(t *testing.T) {
	t.Parallel()
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"value":[{"roleid":"1"},{"roleid":"2"}]}`)
	})
	var got []string
	err := EachLink(context.Background(), dv, dv.Base()+"systemusers(00000000-0000-0000-0000-000000000001)/systemuserroles_association?$select=name",
		func(r struct {
			ID string `json:"roleid"`
		}) error {
			got = append(got, r.ID)
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, got)
	for _, link := range []string{"https://evil.example/api/data/v9.2/roles", "http" + dv.Base()[5:] + "roles"} {
		err := EachLink(context.Background(), dv, link, func(map[string]any) error { return nil })
		require.Error(t, err, link)
		assert.Contains(t, err.Error(), "refusing to follow it")
	}
}

// Every secret-bearing query parameter is redacted, wherever it stands and however often, and user information
// before the host too; other parameters stay readable.
func TestRedactURLHidesEverySecret(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://h/p?sig=abc":                                            "https://h/p?sig=REDACTED",
		"https://h/p?a=1&sig=abc&token=t&code=c&x=2":                     "https://h/p?a=1&sig=REDACTED&token=REDACTED&code=REDACTED&x=2",
		"https://h/p?client_secret=s&client_assertion=ey&access_token=a": "https://h/p?client_secret=REDACTED&client_assertion=REDACTED&access_token=REDACTED",
		"https://h/p?SIG=abc&Code=1#frag":                                "https://h/p?SIG=REDACTED&Code=REDACTED#frag",
		"https://user:pass@h/p?$filter=name%20eq%20'x'":                  "https://REDACTED@h/p?$filter=name%20eq%20'x'",
		"https://h/p?codename=1&signal=2":                                "https://h/p?codename=1&signal=2",
		"https://h/p":                                                    "https://h/p",
	} {
		assert.Equal(t, want, RedactURL(in), in)
	}
}

// A request that gets no answer is reported with the redacted URL only: Go's *url.Error would repeat it whole.
func TestTransportErrorsCarryNoSecret(t *testing.T) {
	t.Parallel()
	c := &Client{HTTP: &http.Client{Transport: failing{}}, Tokens: &staticTokens{}, MaxAttempts: 1}
	_, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: "https://h.example/p?sig=s3cret&x=1"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
	assert.Contains(t, err.Error(), "GET https://h.example/p?sig=REDACTED&x=1: connection reset")
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection reset")
}
