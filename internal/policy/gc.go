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
