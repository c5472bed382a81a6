package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// events is the order in which a request's attempts, yields, waits and resumptions happened.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

type recordingYielder struct {
	ev        *events
	resumeErr error
}

func (y *recordingYielder) Yield() { y.ev.add("yield") }
func (y *recordingYielder) Resume(context.Context) error {
	y.ev.add("resume")
	return y.resumeErr
}

// A request of a context with a Yielder lends out what it holds for every wait between its attempts, and only
// then: Yield before the wait, Resume after it (even when the wait was cut short) and before the next attempt. A
// Resume that fails ends the request with its error, untried again. Writes, which are not retried, never yield.
func TestARequestYieldsOnlyWhileItWaitsToBeRetried(t *testing.T) {
	t.Parallel()
	errLost := errors.New("the slot was not regained")
	for _, tc := range []struct {
		name      string
		statuses  []int // the answers, in order; 200 afterwards
		write     bool
		sleepErr  error
		resumeErr error
		want      []string
		wantErr   error
	}{
		{name: "answered at once", want: []string{"attempt"}},
		{name: "throttled once", statuses: []int{429},
			want: []string{"attempt", "yield", "sleep", "resume", "attempt"}},
		{name: "throttled, then unavailable", statuses: []int{429, 503},
			want: []string{"attempt", "yield", "sleep", "resume", "attempt", "yield", "sleep", "resume", "attempt"}},
		{name: "the wait is cut short", statuses: []int{429}, sleepErr: context.Canceled, wantErr: context.Canceled,
			want: []string{"attempt", "yield", "sleep", "resume"}},
		{name: "what was lent is not regained", statuses: []int{429}, resumeErr: errLost, wantErr: errLost,
			want: []string{"attempt", "yield", "sleep", "resume"}},
		{name: "a write is not retried", statuses: []int{503}, write: true, want: []string{"attempt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := &events{}
			calls := 0
			_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				ev.add("attempt")
				calls++
				if calls <= len(tc.statuses) {
					w.Header().Set("Retry-After", "3")
					writeJSON(w, tc.statuses[calls-1], throttled)
					return
				}
				writeJSON(w, 200, string(payload(t, "whoami.json")))
			})
			c.Sleep = func(context.Context, time.Duration) error { ev.add("sleep"); return tc.sleepErr }
			ctx := WithYielder(context.Background(), &recordingYielder{ev: ev, resumeErr: tc.resumeErr})
			var err error
			if tc.write {
				_, err = dv.Write(ctx, http.MethodPost, "systemusers", map[string]any{"accessmode": 4}, nil)
			} else {
				err = dv.Get(ctx, "WhoAmI", &struct{}{})
			}
			switch {
			case tc.wantErr != nil:
				require.ErrorIs(t, err, tc.wantErr)
			case tc.write:
				require.Error(t, err)
			default:
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, ev.list())
		})
	}
}

// Every page of a listing is its own request: a page retried yields for its wait, the pages before it did not.
func TestAListingYieldsForTheWaitOfThePageRetried(t *testing.T) {
	t.Parallel()
	ev := &events{}
	var srvURL string
	secondPage := 0
	srv, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skiptoken") == "" {
			ev.add("page 1")
			writeJSON(w, 200, `{"value":[{"name":"a"}],"@odata.nextLink":"`+srvURL+`/api/data/v9.2/roles?$skiptoken=2"}`)
			return
		}
		ev.add("page 2")
		if secondPage++; secondPage == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, throttled)
			return
		}
		writeJSON(w, 200, `{"value":[{"name":"b"}]}`)
	})
	srvURL = srv.URL
	c.Sleep = func(context.Context, time.Duration) error { ev.add("sleep"); return nil }
	var names []string
	err := Each(WithYielder(context.Background(), &recordingYielder{ev: ev}), dv, "roles", func(r struct{ Name string }) error {
		names = append(names, r.Name)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names)
	assert.Equal(t, []string{"page 1", "page 2", "yield", "sleep", "resume", "page 2"}, ev.list())
}
