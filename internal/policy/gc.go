package policy

import (
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
// live heap plus at most gcHeadroom instead (never below a quarter more than the live heap, so that a very
// large heap is not marked over and over), read again as the heap grows. Bounds nest: a scan holds one for
// its reports too, around the one its collection holds; the last to be released gives the percentage back.
type GCBound struct{ released sync.Once }

// gcMinPercent is the least GC percentage BoundGC sets: below it the collector would mark a large live heap
// after every few megabytes of allocation.
const gcMinPercent = 25

var gcBound struct {
	sync.Mutex
	active  int
	changed bool // the percentage is the bound's (not when GOGC or another percentage was chosen)
	old     int
	percent int
	calls   int
}

// BoundGC starts bounding the heap, unless GOGC is set in the environment or the program chose a percentage
// other than the default, in which case the bound changes nothing. Call Update as the work goes on (it reads
// the live heap every few calls) and Release at the end.
func BoundGC() *GCBound {
	gcBound.Lock()
	defer gcBound.Unlock()
	if gcBound.active == 0 {
		gcBound.changed, gcBound.calls = false, 0
		if _, set := os.LookupEnv("GOGC"); !set {
			if old := debug.SetGCPercent(100); old == 100 {
				gcBound.changed, gcBound.old, gcBound.percent = true, old, 100
			} else {
				debug.SetGCPercent(old)
			}
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
	if !gcBound.changed {
		return
	}
	if gcBound.calls++; gcBound.calls%32 != 1 {
		return
	}
	if p := boundPercentFor(liveHeap()); p != gcBound.percent {
		gcBound.percent = p
		debug.SetGCPercent(p)
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
	})
}

// boundPercentFor is the GC percentage that lets a live heap grow by at most gcHeadroom (or by itself while it
// is smaller), and by at least gcMinPercent.
func boundPercentFor(live uint64) int {
	if live <= gcHeadroom {
		return 100
	}
	return int(max(gcHeadroom*100/live, gcMinPercent))
}
