package collect

import (
	"context"
	"slices"
	"sync"
)

// fairSlots is a fixed number of slots — requests in flight, or environments being read — shared by tenants.
//
// A tenant wants a slot while one of its goroutines waits for one, or while it expects to ask (expect). It may be
// given a slot while it holds fewer than its share, ceil(slots / tenants wanting one); a freed slot goes to the
// waiting tenant holding the fewest (among equals, the one that began waiting first). So while several tenants
// want slots none is given more than its share, and what a tenant leaves of its share goes to the others: when
// every tenant wanting a slot holds its share, n·ceil(slots/n) ≥ slots are held, so a slot is free only while a
// tenant it is kept for has not asked yet. A tenant alone gets every slot.
type fairSlots struct {
	mu      sync.Mutex
	size    int
	free    int
	wanting int            // tenants that want a slot
	queue   []*tenantSlots // tenants with a goroutine waiting, in the order they began to wait
}

// tenantSlots is one tenant's part of a fairSlots.
type tenantSlots struct {
	f         *fairSlots
	held      int
	expecting bool
	waiters   []chan struct{} // each closed when its goroutine is handed a slot, in the order they began to wait
}

func newFairSlots(size int) *fairSlots {
	return &fairSlots{size: size, free: size}
}

// tenant returns a new tenant's part of the slots, expecting to ask for some or not (see expect).
func (f *fairSlots) tenant(expecting bool) *tenantSlots {
	t := &tenantSlots{f: f}
	t.expect(expecting)
	return t
}

// expect says whether the tenant expects to ask for slots. While it does, it counts among the tenants sharing the
// slots even when none of its goroutines is waiting, so that the others leave its share to it.
func (t *tenantSlots) expect(yes bool) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.wants()
	t.expecting = yes
	t.changed(was)
}

// acquire takes a slot, waiting until the tenant may be given one. It fails only when ctx ends first.
func (t *tenantSlots) acquire(ctx context.Context) error {
	f := t.f
	ready := make(chan struct{})
	f.mu.Lock()
	was := t.wants()
	if len(t.waiters) == 0 {
		f.queue = append(f.queue, t)
	}
	t.waiters = append(t.waiters, ready)
	t.changed(was)
	f.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-ready:
		// Handed a slot as ctx ended: it goes to the next.
		t.releaseLocked()
	default:
		was := t.wants()
		t.waiters = slices.DeleteFunc(t.waiters, func(w chan struct{}) bool { return w == ready })
		if len(t.waiters) == 0 {
			f.queue = slices.DeleteFunc(f.queue, func(q *tenantSlots) bool { return q == t })
		}
		t.changed(was)
	}
	return ctx.Err()
}

// release gives back a slot taken with acquire.
func (t *tenantSlots) release() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.releaseLocked()
}

func (t *tenantSlots) releaseLocked() {
	t.held--
	t.f.free++
	t.f.dispatch()
}

func (t *tenantSlots) wants() bool { return t.expecting || len(t.waiters) > 0 }

// changed follows a change of the tenant's state, which wanted a slot or not before (was): the tenants wanting
// one, and with them every share, may have changed.
func (t *tenantSlots) changed(was bool) {
	switch now := t.wants(); {
	case now && !was:
		t.f.wanting++
	case was && !now:
		t.f.wanting--
	}
	t.f.dispatch()
}

// dispatch hands free slots to waiting goroutines, each to the first waiter of the tenant holding the fewest
// among those under their share.
func (f *fairSlots) dispatch() {
	for f.free > 0 {
		share := (f.size + f.wanting - 1) / max(f.wanting, 1)
		next := -1
		for i, t := range f.queue {
			if t.held < share && (next < 0 || t.held < f.queue[next].held) {
				next = i
			}
		}
		if next < 0 {
			return
		}
		t := f.queue[next]
		ready := t.waiters[0]
		t.waiters = t.waiters[1:]
		if len(t.waiters) == 0 {
			f.queue = slices.Delete(f.queue, next, next+1)
			if !t.expecting {
				f.wanting--
			}
		}
		f.free--
		t.held++
		close(ready)
	}
}
