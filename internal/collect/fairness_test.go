package collect

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// These tests hold requests until something else has happened instead of timing anything. Where the collector
// let one tenant hold back the others, they would wait for each other for ever: the deadline only turns that
// into a failure.
const deadlockDeadline = 2 * time.Minute

// gatedTransport holds a tenant's Dataverse requests (every request but those to the main listener: BAP) until
// open is closed.
type gatedTransport struct {
	base http.RoundTripper
	bap  string
	open <-chan struct{}
}

func (g gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != g.bap {
		select {
		case <-g.open:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.base.RoundTrip(r)
}

func gate(t *testing.T, srv *emulator.Server, target *Target, open <-chan struct{}) {
	t.Helper()
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	target.HTTP = &http.Client{Transport: gatedTransport{base: target.HTTP.Transport, bap: u.Host, open: open}}
}

// tenantProgress counts each tenant's environments started and done, and closes a channel once a condition on
// the counts holds.
type tenantProgress struct {
	mu      sync.Mutex
	started map[string]int
	done    map[string]int
	when    []func(started, done map[string]int) bool
	then    []func(started, done map[string]int)
}

func newTenantProgress() *tenantProgress {
	return &tenantProgress{started: map[string]int{}, done: map[string]int{}}
}

// on runs then once, the first time cond holds after an event.
func (p *tenantProgress) on(cond func(started, done map[string]int) bool, then func(started, done map[string]int)) {
	p.when = append(p.when, cond)
	p.then = append(p.then, then)
}

func (p *tenantProgress) event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Done {
		p.done[e.Tenant]++
	} else {
		p.started[e.Tenant]++
	}
	for i, cond := range p.when {
		if cond != nil && cond(p.started, p.done) {
			p.then[i](p.started, p.done)
			p.when[i] = nil
		}
	}
}

func requireAllRead(t *testing.T, snap *snapshot.Snapshot, environments int) {
	t.Helper()
	for _, tn := range snap.Tenants {
		require.Nil(t, tn.Error, tn.Name)
		require.Len(t, tn.Environments, environments, tn.Name)
		for _, e := range tn.Environments {
			assert.Equal(t, snapshot.StatusOK, e.Status, "%s / %s: %v", tn.Name, e.Name, e.Error)
		}
	}
}

// A slow tenant's environments take no more than its share of the environment slots while the others' wait:
// here its requests are answered only once the two other tenants have been read entirely, and those wait for
// the slow tenant to have started. Were the slow tenant given the slots first come, first served (or the first
// tenant to list all of them), the tenants would wait for each other until the deadline.
func TestOtherTenantsAreReadWhileASlowTenantsEnvironmentsAreInProgress(t *testing.T) {
	t.Parallel()
	const environments = 8
	spec := bench.Spec{Environments: environments, Users: 10, AppUsers: 3}
	slowStarted, fastDone := make(chan struct{}), make(chan struct{})
	var targets []Target
	for _, name := range []string{"fast-1", "slow", "fast-2"} {
		srv, target := startFixture(t, bench.Tenant(spec), emulator.Options{})
		target.Name = name
		if name == "slow" {
			gate(t, srv, &target, fastDone)
		} else {
			gate(t, srv, &target, slowStarted)
		}
		targets = append(targets, target)
	}
	p := newTenantProgress()
	slowInProgress := 0
	p.on(func(started, _ map[string]int) bool { return started["slow"] > 0 }, func(_, _ map[string]int) { close(slowStarted) })
	p.on(func(_, done map[string]int) bool { return done["fast-1"]+done["fast-2"] == 2*environments }, func(started, done map[string]int) {
		slowInProgress = started["slow"] - done["slow"]
		close(fastDone)
	})
	opts := options()
	opts.Concurrency = 6
	opts.Progress = p.event
	ctx, cancel := context.WithTimeout(context.Background(), deadlockDeadline)
	defer cancel()
	snap, err := New(opts).Collect(ctx, targets)
	require.NoError(t, err)
	requireAllRead(t, snap, environments)
	assert.Positive(t, slowInProgress, "the other tenants were read while the slow tenant's environments were in progress")
	assert.Zero(t, p.done["slow"]-environments, "the slow tenant was read in the end")
}

// A tenant whose requests wait out 429s lends their request slots to the others for the waits. Here two of its
// requests are throttled and wait until the other tenant has been read entirely, which waits for the two to be
// asleep; with two request slots, requests that kept their slot while they waited would leave none.
func TestATenantWaitingOutThrottlingLendsItsRequestSlots(t *testing.T) {
	t.Parallel()
	const fastEnvironments = 6
	throttledSrv, throttled := startFixture(t, bench.Tenant(bench.Spec{Environments: 1, Users: 10, AppUsers: 3}), emulator.Options{})
	throttled.Name = "throttled"
	// The solution query passes: the next step sends its queries at once, and the first two are throttled.
	require.NoError(t, throttledSrv.SetFaults(bench.EnvironmentName(0), emulator.Faults{Rules: []emulator.FaultRule{
		{Match: "GET solutions"}, {Match: "GET", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 2}}}))
	twoAsleep, fastDone := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	asleep := 0
	throttled.Client = &api.Client{HTTP: throttled.HTTP, Tokens: throttled.Tokens, Sleep: func(ctx context.Context, _ time.Duration) error {
		mu.Lock()
		if asleep++; asleep == 2 {
			close(twoAsleep)
		}
		mu.Unlock()
		select {
		case <-fastDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	fastSrv, fast := startFixture(t, bench.Tenant(bench.Spec{Environments: fastEnvironments, Users: 10, AppUsers: 3}), emulator.Options{})
	fast.Name = "fast"
	gate(t, fastSrv, &fast, twoAsleep)

	p := newTenantProgress()
	throttledInProgress := 0
	p.on(func(_, done map[string]int) bool { return done["fast"] == fastEnvironments }, func(started, done map[string]int) {
		throttledInProgress = started["throttled"] - done["throttled"]
		close(fastDone)
	})
	opts := options()
	opts.Concurrency = 2
	opts.Progress = p.event
	ctx, cancel := context.WithTimeout(context.Background(), deadlockDeadline)
	defer cancel()
	snap, err := New(opts).Collect(ctx, []Target{throttled, fast})
	require.NoError(t, err)
	require.Len(t, snap.Tenants, 2)
	for _, tn := range snap.Tenants {
		for _, e := range tn.Environments {
			assert.Equal(t, snapshot.StatusOK, e.Status, "%s / %s: %v", tn.Name, e.Name, e.Error)
		}
	}
	assert.Equal(t, 1, throttledInProgress, "the other tenant was read while the throttled environment waited")
	assert.Equal(t, int64(2), throttled.Client.Stats().Retries)
}

// A request waiting to be retried gives its request slot back for the wait and takes one again before it is
// sent again: with a single slot, another request is sent meanwhile. If the wait ends with the context, the
// slot is not taken again, and none is lost or given back twice.
func TestARequestWaitingToBeRetriedLendsItsSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cancel bool // the context ends during the wait
	}{
		{name: "the wait ends"},
		{name: "the context ends during the wait", cancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, target := startFixture(t, bench.Tenant(bench.Spec{Environments: 2, Users: 10, AppUsers: 3}), emulator.Options{})
			require.NoError(t, srv.SetFaults(bench.EnvironmentName(0), emulator.Faults{Rules: []emulator.FaultRule{
				{Match: "GET", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 1}}}))
			asleep, wake := make(chan struct{}), make(chan struct{})
			client := &api.Client{HTTP: target.HTTP, Tokens: target.Tokens, Sleep: func(ctx context.Context, _ time.Duration) error {
				close(asleep)
				select {
				case <-wake:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
			opts := options()
			opts.Concurrency = 1
			c := New(opts)
			requests := c.requests.tenant(false)
			reader := func(i int) *reader {
				dv, err := api.NewDataverse(client, srv.InstanceURL(bench.EnvironmentName(i)), 0)
				require.NoError(t, err)
				return &reader{c: c, dv: dv, sem: make(chan struct{}, 1), requests: requests}
			}
			throttled, other := reader(0), reader(1)
			ctx, cancel := context.WithTimeout(context.Background(), deadlockDeadline)
			defer cancel()
			throttledCtx, cancelThrottled := context.WithCancel(ctx)
			defer cancelThrottled()
			done := make(chan error)
			go func() { done <- throttled.get(throttledCtx, "whoami", "WhoAmI", &struct{}{}) }()
			<-asleep
			var who struct{ UserID string }
			require.NoError(t, other.get(ctx, "whoami", "WhoAmI", &who), "sent while the throttled request waited")
			assert.NotEmpty(t, who.UserID)
			if tc.cancel {
				cancelThrottled()
				require.ErrorIs(t, <-done, context.Canceled)
			} else {
				close(wake)
				require.NoError(t, <-done)
			}
			c.requests.mu.Lock()
			defer c.requests.mu.Unlock()
			assert.Equal(t, 1, c.requests.free, "every request slot is free again")
			assert.Zero(t, requests.held)
			assert.Empty(t, c.requests.queue)
		})
	}
}
