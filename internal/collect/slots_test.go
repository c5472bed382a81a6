package collect

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slotsHarness drives a fairSlots with goroutines that each ask for one slot for a tenant, and observes which
// tenants were handed one. It never sleeps: settle waits until every goroutine started holds a slot or waits for
// one, after which nothing changes until the test releases a slot.
type slotsHarness struct {
	t       *testing.T
	f       *fairSlots
	tenants map[string]*tenantSlots
	grants  chan string
	started int
	handed  int
}

func newSlotsHarness(t *testing.T, size int) *slotsHarness {
	return &slotsHarness{t: t, f: newFairSlots(size), tenants: map[string]*tenantSlots{}, grants: make(chan string, 1000)}
}

func (h *slotsHarness) tenant(name string, expecting bool) *tenantSlots {
	h.tenants[name] = h.f.tenant(expecting)
	return h.tenants[name]
}

// ask starts n goroutines that each wait for a slot of the tenant.
func (h *slotsHarness) ask(name string, n int) {
	ts := h.tenants[name]
	for range n {
		h.started++
		go func() {
			if err := ts.acquire(context.Background()); err == nil {
				h.grants <- name
			}
		}()
	}
}

// settle waits for the goroutines to settle and returns how many slots each tenant was handed since last time.
func (h *slotsHarness) settle() map[string]int {
	for {
		h.f.mu.Lock()
		waiting := 0
		for _, ts := range h.tenants {
			waiting += len(ts.waiters)
		}
		h.f.mu.Unlock()
		if h.handed+len(h.grants)+waiting == h.started {
			break
		}
		runtime.Gosched()
	}
	got := map[string]int{}
	for len(h.grants) > 0 {
		got[<-h.grants]++
		h.handed++
	}
	return got
}

// release gives back one of the tenant's slots and returns the tenant handed it, if any.
func (h *slotsHarness) release(name string) string {
	h.tenants[name].release()
	for name := range h.settle() {
		return name
	}
	return ""
}

// held is how many slots each tenant holds, and how many goroutines of each wait.
func (h *slotsHarness) held() (held, waiting map[string]int) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	held, waiting = map[string]int{}, map[string]int{}
	for name, ts := range h.tenants {
		held[name], waiting[name] = ts.held, len(ts.waiters)
	}
	return held, waiting
}

// A tenant alone is given every slot, and a slot freed goes at once to its next waiter.
func TestATenantAloneIsGivenEverySlot(t *testing.T) {
	t.Parallel()
	for _, expecting := range []bool{false, true} {
		h := newSlotsHarness(t, 5)
		h.tenant("only", expecting)
		h.ask("only", 7)
		assert.Equal(t, map[string]int{"only": 5}, h.settle())
		assert.Equal(t, "only", h.release("only"))
		assert.Equal(t, "only", h.release("only"))
		assert.Empty(t, h.release("only"), "no one waits any more")
		held, _ := h.held()
		assert.Equal(t, 4, held["only"])
	}
}

// A slow tenant, whose slots are never given back, is handed no more than its share while the others wait, and
// the others keep going with the rest; once they stop asking, it is handed every slot they free.
func TestASlowTenantIsGivenNoMoreThanItsShareWhileOthersWait(t *testing.T) {
	t.Parallel()
	const size, perTenant = 8, 20
	share := (size + 2) / 3 // while three tenants want slots
	h := newSlotsHarness(t, size)
	for _, name := range []string{"blocker", "slow", "fast-1", "fast-2"} {
		h.tenant(name, false)
	}
	// Every slot is held while the three tenants line up, so that no tenant is first by chance.
	h.ask("blocker", size)
	require.Equal(t, map[string]int{"blocker": size}, h.settle())
	for _, name := range []string{"slow", "fast-1", "fast-2"} {
		h.ask(name, perTenant)
	}
	require.Empty(t, h.settle())
	for range size {
		h.release("blocker")
	}
	held, _ := h.held()
	for _, name := range []string{"slow", "fast-1", "fast-2"} {
		assert.LessOrEqual(t, held[name], share, name)
		assert.GreaterOrEqual(t, held[name], size/3, name)
	}

	// The fast tenants give their slots back, the slow one never does. Each slot handed to the slow tenant keeps
	// it within its share of that moment: ceil(slots / tenants waiting), itself included.
	slowGiven := 0
	for i := 0; ; i++ {
		held, waiting := h.held()
		fast := []string{"fast-1", "fast-2"}[i%2]
		if held[fast] == 0 {
			fast = []string{"fast-1", "fast-2"}[(i+1)%2]
		}
		if held[fast] == 0 {
			break
		}
		wanting := 1
		for _, name := range []string{"fast-1", "fast-2"} {
			if waiting[name] > 0 {
				wanting++
			}
		}
		if h.release(fast) == "slow" {
			slowGiven++
			held, _ := h.held()
			assert.LessOrEqual(t, held["slow"], (size+wanting-1)/wanting, "the slow tenant's slots with %d tenants waiting", wanting)
		}
	}
	held, waiting := h.held()
	assert.Equal(t, map[string]int{"blocker": 0, "slow": size, "fast-1": 0, "fast-2": 0}, held,
		"once the fast tenants are done, the slow one is handed every slot")
	assert.Zero(t, waiting["fast-1"]+waiting["fast-2"])
	assert.Positive(t, slowGiven)
}

// A tenant that expects to ask keeps its share while it has not asked yet (its environment list is on its way):
// the tenant that asks first is not handed the slots of the one that asks later. When it stops expecting, what it
// left goes to the others.
func TestATenantExpectedToAskKeepsItsShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		size          int
		lateAsks      int // slots the late tenant asks for, 0: none, it stops expecting
		wantFirst     int // slots of the first tenant before the late one asks
		wantLateGiven int
		wantFirstEnd  int // slots of the first tenant once the late one gives its back
	}{
		{name: "the late tenant asks for its share", size: 6, lateAsks: 3, wantFirst: 3, wantLateGiven: 3, wantFirstEnd: 6},
		{name: "the late tenant asks for less", size: 6, lateAsks: 1, wantFirst: 3, wantLateGiven: 1, wantFirstEnd: 6},
		{name: "the late tenant asks for none", size: 5, wantFirst: 3, wantFirstEnd: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSlotsHarness(t, tc.size)
			h.tenant("first", true)
			late := h.tenant("late", true)
			h.ask("first", 10)
			assert.Equal(t, map[string]int{"first": tc.wantFirst}, h.settle())
			h.ask("late", tc.lateAsks)
			assert.Equal(t, tc.wantLateGiven, h.settle()["late"])
			late.expect(false)
			h.settle()
			held, _ := h.held()
			assert.Equal(t, tc.size-tc.wantLateGiven, held["first"], "what the late tenant does not use goes to the first")
			for range tc.wantLateGiven {
				assert.Equal(t, "first", h.release("late"))
			}
			held, _ = h.held()
			assert.Equal(t, tc.wantFirstEnd, held["first"])
		})
	}
}

// A goroutine whose context ends while it waits takes no slot, and stops counting as wanting one; one that is
// handed a slot as its context ends gives it back. Either way no slot is lost or counted twice.
func TestAWaiterWhoseContextEndsTakesNoSlot(t *testing.T) {
	t.Parallel()
	t.Run("while waiting", func(t *testing.T) {
		t.Parallel()
		h := newSlotsHarness(t, 1)
		holder, other := h.tenant("holder", false), h.tenant("other", false)
		h.ask("holder", 1)
		require.Equal(t, map[string]int{"holder": 1}, h.settle())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- other.acquire(ctx) }()
		for {
			if _, waiting := h.held(); waiting["other"] == 1 {
				break
			}
			runtime.Gosched()
		}
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		holder.release()
		h.f.mu.Lock()
		defer h.f.mu.Unlock()
		assert.Equal(t, 1, h.f.free)
		assert.Zero(t, h.f.wanting)
		assert.Empty(t, h.f.queue)
		assert.Zero(t, other.held)
	})
	t.Run("as it is handed a slot", func(t *testing.T) {
		t.Parallel()
		f := newFairSlots(2)
		ts := f.tenant(false)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 200 {
			// Both the slot and the end of the context are ready: either may be chosen.
			err := ts.acquire(ctx)
			f.mu.Lock()
			if err == nil {
				assert.Equal(t, 1, ts.held)
				f.mu.Unlock()
				ts.release()
				f.mu.Lock()
			}
			assert.Zero(t, ts.held)
			assert.Equal(t, 2, f.free)
			assert.Zero(t, f.wanting)
			f.mu.Unlock()
		}
	})
}
