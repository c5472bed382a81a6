package schedule

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the scheduler's time: the real one, or a fake that tests advance at will.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits until d has passed on the wall clock, checking at least once a minute, so that a machine that
// was suspended, or whose clock was set, does not oversleep a scheduled run.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	until := time.Now().Round(0).Add(d)
	for {
		left := time.Until(until)
		if left <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(min(left, time.Minute))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Options configure Loop.
type Options struct {
	Spec *Spec
	// Location is the time zone the expression is read in; nil means the clock's own (local time).
	Location *time.Location
	// Jitter delays each start by a random duration in [0, Jitter), so that many schedulers started from
	// the same expression do not call the same services in the same second.
	Jitter time.Duration
	Clock  Clock
	// Rand returns a number in [0, n); nil uses math/rand/v2.
	Rand func(n int64) int64
	// MaxRuns stops the loop after that many runs; 0 runs until ctx ends.
	MaxRuns int
	// Next, when set, is told of each scheduled time before the loop waits for it (the metrics show it).
	Next func(time.Time)
}

// Run describes one execution of the job.
type Run struct {
	N         int       // 1 for the first run of this process
	Scheduled time.Time // the time the expression named
	Started   time.Time // the time the job started: Scheduled plus the jitter, or later
	// Missed counts the scheduled times that passed while the previous run was still going: they are skipped,
	// never run late or side by side.
	Missed int
}

// Loop waits for each time the expression names and runs job, one run at a time, until ctx ends or MaxRuns
// runs are done. A run still going at the next scheduled time makes that time missed, not run twice. Job
// errors are the job's to report; Loop returns only when it stops, with nil when ctx ended (a clean stop).
func Loop(ctx context.Context, o Options, job func(ctx context.Context, r Run)) error {
	clock := o.Clock
	if clock == nil {
		clock = RealClock{}
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	in := func(t time.Time) time.Time {
		if o.Location != nil {
			return t.In(o.Location)
		}
		return t
	}
	next := o.Spec.Next(in(clock.Now()))
	missed := 0
	for n := 1; o.MaxRuns == 0 || n <= o.MaxRuns; n++ {
		if next.IsZero() {
			return nil
		}
		if o.Next != nil {
			o.Next(next)
		}
		var delay time.Duration
		if o.Jitter > 0 {
			delay = time.Duration(rnd(int64(o.Jitter)))
		}
		wait := max(next.Add(delay).Sub(clock.Now()), 0)
		if err := clock.Sleep(ctx, wait); err != nil || ctx.Err() != nil {
			return nil
		}
		job(ctx, Run{N: n, Scheduled: next, Started: clock.Now(), Missed: missed})
		if ctx.Err() != nil {
			return nil
		}
		now := in(clock.Now())
		missed = 0
		for next = o.Spec.Next(next); !next.IsZero() && !next.After(now); next = o.Spec.Next(next) {
			missed++
		}
	}
	return nil
}
