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
