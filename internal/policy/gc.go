package policy

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Evaluation allocates a few hundred kilobytes per environment, nearly all of it garbage by the time the
// environment's decisions are read, while the heap that survives it (the snapshot, the inputs, the results)
// stays small. With Go's default GOGC=100 the collector then runs every few megabytes of allocation and marks
// that same live heap each time, which costs a third of the evaluation's CPU and keeps the second core busy
// marking instead of evaluating. While evaluations run, the engine therefore lets the heap grow by a fixed
// headroom beyond the live heap instead of by the live heap alone: the collector runs several times less
// often, and the memory it costs is bounded by gcHeadroom, whatever the size of the snapshot.
//
// The setting is the process's, so it is changed only when nobody chose one: not when GOGC is set in the
// environment or the program set a percentage other than the default. Overlapping evaluations share one
// change, undone when the last of them ends.
const (
	gcHeadroom   = 64 << 20
	gcMaxPercent = 800
)

var gcRelax struct {
	sync.Mutex
	active  int
	changed bool
	old     int
}

// relaxGC raises the GC percentage for the duration of an evaluation; call the function it returns when the
// evaluation ends.
func relaxGC() func() {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	gcRelax.Lock()
	defer gcRelax.Unlock()
	if gcRelax.active == 0 {
		percent := gcPercentFor(liveHeap())
		gcRelax.old = debug.SetGCPercent(percent)
		gcRelax.changed = true
		if gcRelax.old != 100 {
			debug.SetGCPercent(gcRelax.old)
			gcRelax.changed = false
		}
	}
	gcRelax.active++
	return func() {
		gcRelax.Lock()
		defer gcRelax.Unlock()
		gcRelax.active--
		if gcRelax.active == 0 && gcRelax.changed {
			debug.SetGCPercent(gcRelax.old)
			gcRelax.changed = false
		}
	}
}

// gcPercentFor is the GC percentage that lets a heap of live bytes grow by itself plus gcHeadroom before the
// next collection, capped at gcMaxPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := 100 + gcHeadroom*100/live
	return int(min(p, gcMaxPercent))
}

// liveHeap is the heap that survived the last collection, in bytes (0 before the first one).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// A streaming scan (TenantEvaluation) holds the results of every environment read so far, so its live heap
// grows with the fleet, and Go's default GOGC=100 lets the heap grow to twice the live heap before the next
// collection: a fleet's results would cost twice their size. BoundGC keeps the next collection's goal at the
// live heap plus at most boundHeadroom instead (never below a quarter more than the live heap, so that a very
// large heap is not marked over and over), read again as the heap grows, and sets the runtime's soft memory
// limit a little above that, so that memory the heap freed goes back to the system. Bounds nest: a scan holds one for
// its reports too, around the one its collection holds; the last to be released gives the percentage back.
type GCBound struct{ released sync.Once }

// gcMinPercent is the least GC percentage BoundGC sets: below it the collector would mark a large live heap
// after every few megabytes of allocation.
const gcMinPercent = 25

// gcLimitSlack is how far above the live heap BoundGC sets the runtime's soft memory limit: the heap's headroom
// and what the runtime holds besides the heap (stacks, its own structures, memory freed but not yet returned
// to the system). The limit makes the runtime return freed memory instead of keeping it, so that the process's
// resident memory follows the live heap.
const gcLimitSlack = boundHeadroom + 32<<20

// boundHeadroom is how far the heap of a streaming scan may grow beyond its live heap before a collection. It
// is smaller than an evaluation's gcHeadroom: a scan holding a fleet's results runs on a memory budget (a
// 256 MiB container), and spends its time waiting on the network rather than evaluating.
const boundHeadroom = 32 << 20

var gcBound struct {
	sync.Mutex
	active  int
	changed bool // the percentage is the bound's (not when GOGC or another percentage was chosen)
	old     int
	percent int
	limited bool // the memory limit is the bound's (not when GOMEMLIMIT or another limit was chosen)
	limit   int64
	calls   int
}

// BoundGC starts bounding the heap, unless GOGC is set in the environment or the program chose a percentage
// other than the default, in which case the bound changes nothing. Call Update as the work goes on (it reads
// the live heap every few calls) and Release at the end.
func BoundGC() *GCBound {
	gcBound.Lock()
	defer gcBound.Unlock()
	if gcBound.active == 0 {
		gcBound.changed, gcBound.limited, gcBound.calls = false, false, 0
		if _, set := os.LookupEnv("GOGC"); !set {
			if old := debug.SetGCPercent(100); old == 100 {
				gcBound.changed, gcBound.old, gcBound.percent = true, old, 100
			} else {
				debug.SetGCPercent(old)
			}
		}
		if _, set := os.LookupEnv("GOMEMLIMIT"); !set && debug.SetMemoryLimit(-1) == math.MaxInt64 {
			gcBound.limited, gcBound.limit = true, math.MaxInt64
		}
	}
	gcBound.active++
	return &GCBound{}
}

// Update sets the GC percentage from the live heap, every 32 calls.
func (b *GCBound) Update() {
	if b == nil {
		return
	}
	gcBound.Lock()
	defer gcBound.Unlock()
	if !gcBound.changed && !gcBound.limited {
		return
	}
	if gcBound.calls++; gcBound.calls%32 != 1 {
		return
	}
	live := liveHeap()
	if p := boundPercentFor(live); gcBound.changed && p != gcBound.percent {
		gcBound.percent = p
		debug.SetGCPercent(p)
	}
	if l := boundLimitFor(live); gcBound.limited && l != gcBound.limit {
		gcBound.limit = l
		debug.SetMemoryLimit(l)
	}
}

// Release ends this bound; the last one gives the GC percentage back. Calls after the first do nothing.
func (b *GCBound) Release() {
	if b == nil {
		return
	}
	b.released.Do(func() {
		gcBound.Lock()
		defer gcBound.Unlock()
		gcBound.active--
		if gcBound.active == 0 && gcBound.changed {
			debug.SetGCPercent(gcBound.old)
			gcBound.changed = false
		}
		if gcBound.active == 0 && gcBound.limited {
			debug.SetMemoryLimit(math.MaxInt64)
			gcBound.limited = false
		}
	})
}

// boundLimitFor is the soft memory limit for a live heap: gcLimitSlack above it, in steps of 16 MiB (so that
// it is not set again for every few bytes the heap grows).
func boundLimitFor(live uint64) int64 {
	const step = 16 << 20
	return int64((live+step-1)/step*step) + gcLimitSlack
}

// boundPercentFor is the GC percentage that lets a live heap grow by at most boundHeadroom (or by itself while
// it is smaller), and by at least gcMinPercent.
func boundPercentFor(live uint64) int {
	if live <= boundHeadroom {
		return 100
	}
	return int(max(boundHeadroom*100/live, gcMinPercent))
}
