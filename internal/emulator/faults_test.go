package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	// The admitted requests are held long enough for every other one to arrive, even on a busy machine.
	srv := startServer(t, Options{ConcurrencyLimit: 3, Latency: 2 * time.Second})
	tok := dvToken(t, srv)
	const n = 7
	statuses := make([]apiResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := send(context.Background(), srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
			if err == nil {
				statuses[i] = resp
			}
		}()
	}
	wg.Wait()
	ok, throttled := 0, 0
	for _, resp := range statuses {
		switch resp.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			throttled++
			assert.Equal(t, "1", resp.header.Get("Retry-After"))
			assert.JSONEq(t, `{"error":{"code":"0x80072326","message":"Number of concurrent requests exceeded the limit of 3."}}`, string(resp.body))
		}
	}
	assert.Equal(t, 3, ok)
	assert.Equal(t, n-3, throttled)
	st := srv.Stats().ByEnvironment[srv.EnvironmentID(prod)]
	assert.Equal(t, n-3, st.Throttled)
	// Refused attempts leave at once, so the peak is the 3 admitted plus at least one attempt counted before
	// the limit check refused it.
	assert.GreaterOrEqual(t, st.MaxInFlight, 4, "attempts count before the limit check")
	assert.LessOrEqual(t, st.MaxInFlight, n)
	assert.Equal(t, st.MaxInFlight, srv.Stats().MaxInFlight)
}

func TestUnlimitedConcurrency(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{ConcurrencyLimit: -1, Latency: 200 * time.Millisecond})
	tok := dvToken(t, srv)
	var wg sync.WaitGroup
	codes := make(chan int, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := send(context.Background(), srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
			if err == nil {
				codes <- resp.status
			}
		}()
	}
	wg.Wait()
	close(codes)
	count := 0
	for c := range codes {
		assert.Equal(t, http.StatusOK, c)
		count++
	}
	assert.Equal(t, 60, count)
}

func TestFaultBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rule  FaultRule
		check func(t *testing.T, resp apiResponse)
	}{
		{"503 json", FaultRule{Status: 503, RetryAfter: 7}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 503, resp.status)
			assert.Equal(t, "7", resp.header.Get("Retry-After"))
			assert.Equal(t, "0x80040216", resp.errorCode(t))
		}},
		{"429 json", FaultRule{Status: 429, RetryAfter: 1, Body: "json"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 429, resp.status)
			assert.Equal(t, "1", resp.header.Get("Retry-After"))
			assert.JSONEq(t, `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`, string(resp.body))
		}},
		{"502 html", FaultRule{Status: 502, Body: "html"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 502, resp.status)
			assert.Equal(t, "text/html; charset=utf-8", resp.header.Get("Content-Type"))
			assert.Contains(t, string(resp.body), "<title>502 Bad Gateway</title>")
		}},
		{"truncated page", FaultRule{Body: "truncated"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 200, resp.status)
			assert.False(t, json.Valid(resp.body))
			assert.True(t, strings.HasPrefix(string(resp.body), `{"@odata.context":`))
		}},
		{"not JSON", FaultRule{Body: "not_json"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 200, resp.status)
			assert.Equal(t, "application/json; odata.metadata=minimal", resp.header.Get("Content-Type"))
			assert.False(t, json.Valid(resp.body))
		}},
		{"wrong content type", FaultRule{Body: "wrong_type"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 200, resp.status)
			assert.Equal(t, "text/plain; charset=utf-8", resp.header.Get("Content-Type"))
			assert.True(t, json.Valid(resp.body))
		}},
		{"empty", FaultRule{Body: "empty"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 200, resp.status)
			assert.Empty(t, resp.body)
		}},
		{"empty 500", FaultRule{Status: 500, Body: "empty"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 500, resp.status)
			assert.Empty(t, resp.body)
		}},
		{"next link loop", FaultRule{NextLink: "loop"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, 200, resp.status)
			assert.Equal(t, "https://", resp.object(t)["@odata.nextLink"].(string)[:8])
			assert.Regexp(t, `^https://127\.0\.0\.1:\d+/api/data/v9\.2/systemusers\?\$select=fullname$`, resp.object(t)["@odata.nextLink"])
		}},
		{"next link foreign", FaultRule{NextLink: "foreign"}, func(t *testing.T, resp apiResponse) {
			assert.Equal(t, "https://evil.example/api/data/v9.2/systemusers?$select=fullname", resp.object(t)["@odata.nextLink"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Options{})
			tt.rule.Match = "GET systemusers"
			require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{tt.rule}}))
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname"), dvToken(t, srv), "")
			tt.check(t, resp)
		})
	}
}

func TestFaultTransport(t *testing.T) {
	t.Parallel()
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Match: "WhoAmI", Reset: true}}}))
		_, err := send(context.Background(), srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), dvToken(t, srv), "")
		assert.Error(t, err)
	})
	t.Run("delay honours cancellation", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Delay: 5 * time.Second}}}))
		tok := dvToken(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := send(ctx, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Less(t, time.Since(start), 4*time.Second, "the 5 s delay ends with the request")
	})
	t.Run("latency adds up", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{Latency: 100 * time.Millisecond})
		require.NoError(t, srv.SetFaults(prod, Faults{Latency: 150 * time.Millisecond}))
		tok := dvToken(t, srv)
		start := time.Now()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
		assert.Equal(t, http.StatusOK, resp.status)
		assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "both latencies are waited")
	})
	t.Run("an environment's latency is its own", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		require.NoError(t, srv.SetFaults(prod, Faults{Latency: time.Hour}))
		// Another environment answers within a deadline far shorter than the faulted one's latency.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := send(ctx, srv, http.MethodGet, dvURL(srv, sandbox, "WhoAmI"), orgToken(t, srv, sandbox), "")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.status)
	})
	t.Run("oversize", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Body: "oversize"}}}))
		req, err := http.NewRequest(http.MethodGet, dvURL(srv, prod, "systemusers"), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+dvToken(t, srv))
		resp, err := srv.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, int64(-1), resp.ContentLength, "streamed without a length, so only a size limit protects the client")
		var ends edges
		n, err := io.Copy(&ends, resp.Body)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, int64(64<<20))
		assert.True(t, strings.HasPrefix(string(ends.head), `{"@odata.context":"$metadata#systemusers(fullname)","value":[{"@odata.etag":`), "%s", ends.head)
		assert.True(t, strings.HasSuffix(string(ends.tail), `"}]}`), "%s", ends.tail)
	})
}

// edges keeps the first and last bytes of a stream too large to hold.
type edges struct{ head, tail []byte }

func (e *edges) Write(p []byte) (int, error) {
	if len(e.head) < 128 {
		e.head = append(e.head, p[:min(len(p), 128-len(e.head))]...)
	}
	e.tail = append(e.tail, p...)
	if len(e.tail) > 128 {
		e.tail = append([]byte(nil), e.tail[len(e.tail)-128:]...)
	}
	return len(p), nil
}

func TestFaultCounting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule FaultRule
		want []int
	}{
		{"count", FaultRule{Match: "GET systemusers", Status: 500, Count: 2}, []int{500, 500, 200, 200}},
		{"every", FaultRule{Match: "systemusers", Status: 503, Every: 2}, []int{200, 503, 200, 503}},
		{"always", FaultRule{Match: "GET", Status: 504}, []int{504, 504, 504, 504}},
		{"other method", FaultRule{Match: "POST systemusers", Status: 500}, []int{200, 200, 200, 200}},
		{"other segment", FaultRule{Match: "GET roles", Status: 500}, []int{200, 200, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Options{})
			require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{tt.rule}}))
			tok := dvToken(t, srv)
			var got []int
			for range tt.want {
				got = append(got, call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$top=1"), tok, "").status)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFaultedWriteChangesNothing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Match: "PATCH systemusers", Status: 503, Count: 1}}}))
	tok := dvToken(t, srv)
	svc := srv.UserID(prod, "svc")
	resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`)
	assert.Equal(t, 503, resp.status)
	assert.Equal(t, true, userRow(t, srv, prod, svc)["isdisabled"])
	writes := srv.Writes()
	require.Len(t, writes, 1)
	assert.Equal(t, 503, writes[0].Status)
	assert.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`).status)
}

func TestBAPFaults(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.BAP = Faults{Rules: []FaultRule{{Match: "BAP", Status: 429, RetryAfter: 2, Count: 1}, {Match: "BAP", NextLink: "foreign", Count: 1}}}
	srv := startFixture(t, f, Options{})
	tok := bapToken(t, srv)

	resp := call(t, srv, http.MethodGet, bapListURL(srv, "2020-10-01"), tok, "")
	assert.Equal(t, 429, resp.status)
	assert.Equal(t, "2", resp.header.Get("Retry-After"))
	assert.Equal(t, "TooManyRequests", resp.errorCode(t))

	resp = call(t, srv, http.MethodGet, bapListURL(srv, "2020-10-01"), tok, "")
	assert.Equal(t, 200, resp.status)
	assert.Equal(t, "https://evil.example"+bapEnvironmentsPath+"?api-version=2020-10-01", resp.object(t)["nextLink"])

	resp = call(t, srv, http.MethodGet, bapListURL(srv, "2020-10-01"), tok, "")
	assert.NotContains(t, resp.object(t), "nextLink")

	require.NoError(t, srv.SetBAPFaults(Faults{Rules: []FaultRule{{Status: 502, Body: "html"}}}))
	resp = call(t, srv, http.MethodGet, bapListURL(srv, "2020-10-01"), tok, "")
	assert.Equal(t, 502, resp.status)
	assert.Equal(t, "text/html; charset=utf-8", resp.header.Get("Content-Type"))

	assert.Error(t, srv.SetBAPFaults(Faults{Rules: []FaultRule{{Body: "xml"}}}))
	assert.Error(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{NextLink: "sideways"}}}))
}

func TestAppliedFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rule   FaultRule
		status int // what the client sees; 0: no answer
	}{
		{"throttled after the write", FaultRule{Status: 429, RetryAfter: 7}, 429},
		{"server error after the write", FaultRule{Status: 500}, 500},
		{"connection closed after the write", FaultRule{Reset: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Options{})
			tok := dvToken(t, srv)
			svc := srv.UserID(prod, "svc")
			rule := tt.rule
			rule.Match, rule.Applied, rule.Count = "PATCH systemusers", true, 1
			require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{rule}}))

			resp, err := send(context.Background(), srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`)
			if tt.status == 0 {
				assert.Error(t, err, "no answer")
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.status, resp.status)
				if tt.rule.RetryAfter > 0 {
					assert.Equal(t, "7", resp.header.Get("Retry-After"))
				}
			}
			assert.Equal(t, false, userRow(t, srv, prod, svc)["isdisabled"], "the write took effect")
			writes := srv.Writes()
			require.Len(t, writes, 1)
			assert.Equal(t, tt.status, writes[0].Status, "the journal has the status the client saw")

			// The rule is spent: the next write answers normally, and faults never apply to reads by accident.
			resp = call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":true}`)
			assert.Equal(t, http.StatusNoContent, resp.status)
			assert.Equal(t, true, userRow(t, srv, prod, svc)["isdisabled"])
		})
	}
	t.Run("without applied a faulted write changes nothing", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		svc := srv.UserID(prod, "svc")
		require.NoError(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Match: "PATCH systemusers", Status: 500}}}))
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), dvToken(t, srv), `{"isdisabled":false}`)
		assert.Equal(t, http.StatusInternalServerError, resp.status)
		assert.Equal(t, true, userRow(t, srv, prod, svc)["isdisabled"])
	})
	t.Run("applied needs an answer to replace the real one", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		assert.ErrorContains(t, srv.SetFaults(prod, Faults{Rules: []FaultRule{{Applied: true}}}), "applied needs a status or reset")
	})
}
