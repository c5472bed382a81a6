package policy

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGCPercentForGivesAFixedHeadroom(t *testing.T) {
	cases := []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},
		{16 << 20, 500},
		{64 << 20, 200},
		{256 << 20, 125},
		{4 << 30, 101},
	}
	for _, c := range cases {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func TestRelaxGCRaisesThePercentageWhileEvaluationsRun(t *testing.T) {
	if v, set := os.LookupEnv("GOGC"); set {
		t.Cleanup(func() { os.Setenv("GOGC", v) })
		os.Unsetenv("GOGC")
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	current := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	first := relaxGC()
	second := relaxGC()
	if p := current(); p <= 100 {
		t.Fatalf("during an evaluation the percentage is %d, want more than 100", p)
	}
	first()
	if p := current(); p <= 100 {
		t.Errorf("with one evaluation still running the percentage is %d, want more than 100", p)
	}
	second()
	if p := current(); p != 100 {
		t.Errorf("after the last evaluation the percentage is %d, want 100", p)
	}
}

func TestRelaxGCLeavesGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "100")
	restore := relaxGC()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("with GOGC set the percentage changed to %d", p)
	}
	restore()
}

func TestRelaxGCLeavesAChosenPercentageAlone(t *testing.T) {
	old := debug.SetGCPercent(300)
	defer debug.SetGCPercent(old)
	restore := relaxGC()
	if p := debug.SetGCPercent(300); p != 300 {
		t.Errorf("a chosen percentage of 300 was changed to %d", p)
	}
	restore()
	if p := debug.SetGCPercent(300); p != 300 {
		t.Errorf("after the evaluation the percentage is %d, want 300", p)
	}
}

func TestBoundPercentForKeepsTheHeadroomBounded(t *testing.T) {
	cases := []struct {
		live uint64
		want int
	}{
		{0, 100},
		{16 << 20, 100},
		{32 << 20, 100},
		{64 << 20, 50},
		{100 << 20, 32},
		{128 << 20, 25},
		{4 << 30, gcMinPercent},
	}
	for _, c := range cases {
		if got := boundPercentFor(c.live); got != c.want {
			t.Errorf("boundPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The heap a streaming scan holds grows with the fleet: the bound lowers the percentage once the live heap is
// above the headroom, nested bounds share one change, and the last one gives the percentage back.
func TestBoundGCLowersThePercentageForALargeLiveHeap(t *testing.T) {
	if v, set := os.LookupEnv("GOGC"); set {
		t.Cleanup(func() { os.Setenv("GOGC", v) })
		os.Unsetenv("GOGC")
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	current := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	outer := BoundGC()
	inner := BoundGC()
	held := make([]byte, 160<<20) // a live heap of 160 MiB
	runtime.GC()
	inner.Update()
	if p := current(); p >= 100 || p < gcMinPercent {
		t.Fatalf("with %d MiB live the percentage is %d, want between %d and 100", len(held)>>20, p, gcMinPercent)
	}
	if l := debug.SetMemoryLimit(-1); l < 160<<20 || l > 160<<20+gcLimitSlack+32<<20 {
		t.Errorf("with %d MiB live the memory limit is %d MiB, want a little above it", len(held)>>20, l>>20)
	}
	inner.Release()
	inner.Release()
	if p := current(); p >= 100 {
		t.Errorf("with the outer bound still held the percentage is %d, want under 100", p)
	}
	outer.Release()
	if p := current(); p != 100 {
		t.Errorf("after the last bound the percentage is %d, want 100", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after the last bound the memory limit is %d, want none", l)
	}
	runtime.KeepAlive(held)
}

func TestBoundGCLeavesGOGCAndAChosenPercentageAlone(t *testing.T) {
	t.Run("GOGC and GOMEMLIMIT", func(t *testing.T) {
		t.Setenv("GOGC", "100")
		t.Setenv("GOMEMLIMIT", "1GiB")
		old := debug.SetGCPercent(100)
		defer debug.SetGCPercent(old)
		b := BoundGC()
		held := make([]byte, 160<<20)
		runtime.GC()
		b.Update()
		if p := debug.SetGCPercent(100); p != 100 {
			t.Errorf("with GOGC set the percentage changed to %d", p)
		}
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			t.Errorf("with GOMEMLIMIT set the limit changed to %d", l)
		}
		b.Release()
		runtime.KeepAlive(held)
	})
	t.Run("chosen", func(t *testing.T) {
		old := debug.SetGCPercent(300)
		defer debug.SetGCPercent(old)
		b := BoundGC()
		held := make([]byte, 160<<20)
		runtime.GC()
		b.Update()
		if p := debug.SetGCPercent(300); p != 300 {
			t.Errorf("a chosen percentage of 300 was changed to %d", p)
		}
		b.Release()
		if p := debug.SetGCPercent(300); p != 300 {
			t.Errorf("after the bound the percentage is %d, want 300", p)
		}
		runtime.KeepAlive(held)
	})
}
