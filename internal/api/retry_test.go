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

// Retry-After is honoured in both forms RFC 9110 §10.2.3 allows, seconds and an HTTP date (the IMF-fixdate of
// RFC 7231 and the two obsolete forms a recipient must accept), read against the client's clock; the ceiling
// holds for both. What is neither, or a date already past, leaves the wait to the backoff.
func TestRetryAfterInEitherFormIsHonouredUpToTheCeiling(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const backoff = -1 // the wait is the backoff's: between half BaseBackoff and BaseBackoff
	for _, tc := range []struct {
		name, retryAfter string
		wantWait         time.Duration
		wantErr          string
	}{
		{name: "seconds", retryAfter: "120", wantWait: 2 * time.Minute},
		{name: "seconds with a fraction", retryAfter: "1.5", wantWait: 1500 * time.Millisecond},
		{name: "IMF-fixdate", retryAfter: "Thu, 26 Nov 2026 12:01:30 GMT", wantWait: 90 * time.Second},
		{name: "RFC 850 date", retryAfter: "Thursday, 26-Nov-26 12:01:30 GMT", wantWait: 90 * time.Second},
		{name: "asctime date", retryAfter: "Thu Nov 26 12:01:30 2026", wantWait: 90 * time.Second},
		{name: "date at the ceiling", retryAfter: "Thu, 26 Nov 2026 12:05:00 GMT", wantWait: 5 * time.Minute},
		{name: "date beyond the ceiling", retryAfter: "Thu, 26 Nov 2026 12:07:00 GMT",
			wantErr: "a retry would wait 7m0s, longer than the 5m0s ceiling on Retry-After"},
		{name: "seconds beyond the ceiling", retryAfter: "301", wantErr: "a retry would wait 5m1s, longer than the 5m0s ceiling"},
		{name: "seconds beyond what a duration holds", retryAfter: "99999999999999999999", wantErr: "longer than the 5m0s ceiling"},
		{name: "date in the past", retryAfter: "Thu, 26 Nov 2026 11:59:00 GMT", wantWait: backoff},
		{name: "zero seconds", retryAfter: "0", wantWait: backoff},
		{name: "negative seconds", retryAfter: "-30", wantWait: backoff},
		{name: "exponent", retryAfter: "1e3", wantWait: backoff},
		{name: "infinity", retryAfter: "Inf", wantWait: backoff},
		{name: "garbage", retryAfter: "soon", wantWait: backoff},
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
			c.Now = func() time.Time { return now }
			c.BaseBackoff = 2 * time.Second
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
			if tc.wantErr != "" {
				var we *WaitError
				require.ErrorAs(t, err, &we)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Greater(t, we.Wait, DefaultMaxRetryAfter)
				assert.Empty(t, waits, "a wait beyond the ceiling is never started")
				assert.Equal(t, int32(1), calls.Load())
				return
			}
			require.NoError(t, err)
			require.Len(t, waits, 1)
			if tc.wantWait == backoff {
				assert.GreaterOrEqual(t, waits[0], time.Second)
				assert.LessOrEqual(t, waits[0], 2*time.Second)
				return
			}
			assert.Equal(t, tc.wantWait, waits[0])
		})
	}
}

// A request's waits add up to at most MaxWait. The next wait is counted before it starts: the one that would take
// the total beyond the budget is never slept, and the request ends with a *WaitError that says why, wrapping the
// answer that asked for the wait. A total exactly at the budget is allowed.
func TestWaitsOfOneRequestStayWithinItsBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		retryAfter string
		budget     time.Duration
		wantWaits  []time.Duration
		wantWait   time.Duration // of the refused retry
		wantReason string
	}{
		{"the third wait would pass the budget", "240", 10 * time.Minute, []time.Duration{4 * time.Minute, 4 * time.Minute}, 4 * time.Minute,
			"beyond the 10m0s one request may wait in all (collect.max_retry_wait; 8m0s waited already)"},
		{"two waits fill the budget exactly", "300", 10 * time.Minute, []time.Duration{5 * time.Minute, 5 * time.Minute}, 5 * time.Minute,
			"beyond the 10m0s one request may wait in all (collect.max_retry_wait; 10m0s waited already)"},
		{"the first wait alone is beyond the budget", "120", time.Minute, nil, 2 * time.Minute,
			"beyond the 1m0s one request may wait in all (collect.max_retry_wait; 0s waited already)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", tc.retryAfter)
				writeJSON(w, 429, throttled)
			})
			c.MaxWait, c.MaxAttempts = tc.budget, 20
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
			var we *WaitError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, tc.wantWaits, waits)
			assert.Equal(t, int32(len(tc.wantWaits)+1), calls.Load(), "no request follows the refused wait")
			assert.Equal(t, tc.wantWait, we.Wait)
			assert.Equal(t, tc.wantReason, we.Reason)
			assert.Equal(t, 429, StatusOf(err), "the answer that asked for the wait stays in the chain")
			assert.Contains(t, err.Error(), "a retry would wait "+tc.wantWait.String()+", "+tc.wantReason)
		})
	}
}

// A wait the backoff chooses counts against the budget as a Retry-After does.
func TestBackoffWaitsCountAgainstTheBudget(t *testing.T) {
	t.Parallel()
	c := &Client{BaseBackoff: 10 * time.Second, MaxWait: 25 * time.Second}
	unavailable := &Error{Method: http.MethodGet, URL: "https://o/api/data/v9.2/x", Status: 503}
	// The first backoff is 5 to 10 s: after 14 s it fits in 25 s, after 21 s it cannot.
	wait, err := c.RetryWait(context.Background(), unavailable, 1, 14*time.Second)
	require.NoError(t, err)
	assert.LessOrEqual(t, wait, 10*time.Second)
	_, err = c.RetryWait(context.Background(), unavailable, 1, 21*time.Second)
	var we *WaitError
	require.ErrorAs(t, err, &we)
	assert.Contains(t, we.Reason, "beyond the 25s one request may wait in all (collect.max_retry_wait; 21s waited already)")
	assert.Equal(t, 503, StatusOf(err))
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

// A persistent failure is tried exactly MaxAttempts times (DefaultMaxAttempts when unset), whether the service
// answers 503 or does not answer at all, with a wait between tries and none after the last.
func TestAPersistentFailureIsTriedExactlyMaxAttemptsTimes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxAttempts int
		want        int
	}{
		{"unset", 0, DefaultMaxAttempts},
		{"one", 1, 1},
		{"three", 3, 3},
	} {
		t.Run(tc.name+", 503", func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeJSON(w, 503, `{"error":{"code":"0x80040216","message":"unavailable"}}`)
			})
			c.MaxAttempts = tc.maxAttempts
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
			assert.Equal(t, 503, StatusOf(err))
			assert.Equal(t, int32(tc.want), calls.Load(), "requests the server saw")
			assert.Equal(t, Stats{Requests: int64(tc.want), Retries: int64(tc.want - 1)}, c.Stats())
			assert.Len(t, waits, tc.want-1)
		})
		t.Run(tc.name+", no answer", func(t *testing.T) {
			t.Parallel()
			rt := &countingFailure{}
			var waits []time.Duration
			c := &Client{HTTP: &http.Client{Transport: rt}, Tokens: &staticTokens{}, MaxAttempts: tc.maxAttempts,
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			_, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: "https://o.example/api/data/v9.2/WhoAmI", Retry: true})
			assert.True(t, IsTransport(err), "%v", err)
			assert.Equal(t, int32(tc.want), rt.calls.Load(), "requests sent")
			assert.Len(t, waits, tc.want-1)
		})
	}
}

// countingFailure is a transport that never gets an answer and counts the requests it was given.
type countingFailure struct{ calls atomic.Int32 }

func (f *countingFailure) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, errors.New("connection reset")
}

// Without Retry-After the wait doubles from BaseBackoff per attempt up to 30 s, with jitter between half the wait
// and the whole; however many attempts max_attempts allows, the wait stays within those bounds.
func TestBackoffDoublesUpToItsCap(t *testing.T) {
	t.Parallel()
	unavailable := &Error{Method: http.MethodGet, URL: "https://o/api/data/v9.2/x", Status: 503}
	for _, tc := range []struct {
		name string
		base time.Duration
		full []time.Duration // the wait before jitter, per attempt from the first
	}{
		{"from one second", time.Second, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"from the default half second", 0, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}},
		{"from above the cap", time.Minute, []time.Duration{30 * time.Second, 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &Client{BaseBackoff: tc.base, MaxWait: time.Hour}
			for i, full := range tc.full {
				wait, err := c.RetryWait(context.Background(), unavailable, i+1, 0)
				require.NoError(t, err)
				assert.GreaterOrEqual(t, wait, full/2, "attempt %d", i+1)
				assert.LessOrEqual(t, wait, full, "attempt %d", i+1)
			}
		})
	}
	t.Run("attempts far beyond the default", func(t *testing.T) {
		t.Parallel()
		c := &Client{BaseBackoff: time.Second, MaxWait: time.Hour}
		for attempt := 30; attempt <= 70; attempt++ {
			wait, err := c.RetryWait(context.Background(), unavailable, attempt, 0)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, wait, 15*time.Second, "attempt %d", attempt)
			assert.LessOrEqual(t, wait, 30*time.Second, "attempt %d", attempt)
		}
	})
	t.Run("through a request", func(t *testing.T) {
		t.Parallel()
		_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, `{"error":{"code":"0x80040216","message":"unavailable"}}`)
		})
		c.MaxAttempts, c.BaseBackoff = 5, time.Second
		var waits []time.Duration
		c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
		require.Error(t, dv.Get(context.Background(), "WhoAmI", &struct{}{}))
		require.Len(t, waits, 4)
		for i, w := range waits {
			full := time.Second << i
			assert.GreaterOrEqual(t, w, full/2, "wait %d", i+1)
			assert.LessOrEqual(t, w, full, "wait %d", i+1)
		}
	})
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
