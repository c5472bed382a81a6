package schedule

import (
	"context"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) // a Thursday

func TestNextFollowsStandardCron(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		from time.Time
		want []string
	}{
		{"0 */6 * * *", base, []string{"2026-11-26T18:00", "2026-11-27T00:00", "2026-11-27T06:00"}},
		{"0 */6 * * *", base.Add(-time.Second), []string{"2026-11-26T12:00", "2026-11-26T18:00"}},
		{"*/15 9-10 * * *", base, []string{"2026-11-27T09:00", "2026-11-27T09:15", "2026-11-27T09:30", "2026-11-27T09:45", "2026-11-27T10:00"}},
		{"30 2 * * mon-fri", base, []string{"2026-11-27T02:30", "2026-11-30T02:30", "2026-12-01T02:30"}},
		{"0 0 * * 0", base, []string{"2026-11-29T00:00", "2026-12-06T00:00"}},
		// Both day fields restricted: either matches (the 1st of the month, or a Sunday).
		{"0 0 1 * sun", base, []string{"2026-11-29T00:00", "2026-12-01T00:00", "2026-12-06T00:00"}},
		{"0 0 29 feb *", base, []string{"2028-02-29T00:00"}},
		{"5/20 * * * *", base, []string{"2026-11-26T12:05", "2026-11-26T12:25", "2026-11-26T12:45", "2026-11-26T13:05"}},
		{"0 12 1,15 jan,JUL *", base, []string{"2027-01-01T12:00", "2027-01-15T12:00", "2027-07-01T12:00"}},
		{"@daily", base, []string{"2026-11-27T00:00"}},
		{"@hourly", base, []string{"2026-11-26T13:00"}},
		{"@weekly", base, []string{"2026-11-29T00:00"}},
		{"@DAILY", base, []string{"2026-11-27T00:00"}},
		{"  0 6 * * *  ", base, []string{"2026-11-27T06:00"}},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr)
			require.NoError(t, err)
			at := tc.from
			for _, w := range tc.want {
				at = s.Next(at)
				assert.Equal(t, w, at.Format("2006-01-02T15:04"))
			}
		})
	}
	s, err := Parse("0 0 30 2 *")
	require.NoError(t, err)
	assert.True(t, s.Next(base).IsZero(), "30 February never comes")
}

func TestNextKeepsWallClockTimeAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York") // the embedded time/tzdata makes this work everywhere
	require.NoError(t, err)
	s, err := Parse("0 9 * * *")
	require.NoError(t, err)
	from := time.Date(2026, 3, 7, 10, 0, 0, 0, ny) // the day before clocks go forward
	next := s.Next(from)
	assert.Equal(t, "2026-03-08T09:00:00-04:00", next.Format(time.RFC3339))
	// A time that does not exist that night is skipped, not run twice or at another hour of the same day.
	s, err = Parse("30 2 * * *")
	require.NoError(t, err)
	assert.Equal(t, "2026-03-09T02:30:00-04:00", s.Next(from.Add(14*time.Hour)).Format(time.RFC3339))
}

func TestNextRunsAFixedTimeOnceWhenClocksGoBack(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	from := time.Date(2026, 10, 25, 0, 10, 0, 0, london) // 01:00-02:00 BST is followed by 01:00-02:00 GMT
	for _, tc := range []struct {
		expr string
		want []string
	}{
		// A fixed time runs at its first occurrence, as in Vixie cron.
		{"30 1 * * *", []string{"2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00Z"}},
		{"0 1 * * sun", []string{"2026-10-25T01:00:00+01:00", "2026-11-01T01:00:00Z"}},
		// A wildcard or a step in the minute or the hour goes on through the repeated hour, in real time.
		{"*/30 * * * *", []string{"2026-10-25T00:30:00+01:00", "2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00",
			"2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"}},
		{"@hourly", []string{"2026-10-25T01:00:00+01:00", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr)
			require.NoError(t, err)
			var got []string
			for at := from; len(got) < len(tc.want); {
				at = s.Next(at)
				got = append(got, at.Format(time.RFC3339))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRefusesWhatCronDoesNotMean(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"0 0 */6 * * *":            "seconds are not supported",
		"0 */6 * *":                "has 4 fields",
		"":                         "has 0 fields",
		"60 * * * *":               `minute (0-59) "60": end of range (60) above maximum (59)`,
		"* 24 * * *":               `hour (0-23) "24": end of range (24) above maximum (23)`,
		"* * 0 * *":                `day of month (1-31) "0": beginning of range (0) below minimum (1)`,
		"* * * 13 *":               `month (1-12 or jan-dec) "13": end of range (13) above maximum (12)`,
		"* * * * 7":                `day of week (0-6 or sun-sat, 0 is Sunday) "7": end of range (7) above maximum (6)`,
		"* * * * mon-sun":          `day of week (0-6 or sun-sat, 0 is Sunday) "mon-sun": beginning of range (1) beyond end of range (0)`,
		"*/0 * * * *":              `minute (0-59) "*/0": step of range should be a positive number`,
		"5-1 * * * *":              `minute (0-59) "5-1": beginning of range (5) beyond end of range (1)`,
		"0 a * * *":                `hour (0-23) "a": failed to parse int from a`,
		"1,,2 * * * *":             `minute (0-59) "1,,2": empty list item`,
		"@every 5m":                "unknown shorthand",
		"CRON_TZ=UTC 0 6 * * *":    "give the time zone with --tz",
		"TZ=Europe/London @hourly": "give the time zone with --tz",
	} {
		_, err := Parse(expr)
		if assert.Error(t, err, expr) {
			assert.Contains(t, err.Error(), want, expr)
		}
	}
}

// fakeClock advances only when the scheduler sleeps or a job says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	cancel func()
	after  int // cancel on this sleep (1-based); 0 never
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	n := len(c.sleeps)
	c.mu.Unlock()
	if n == c.after {
		c.cancel()
		return ctx.Err()
	}
	c.advance(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestLoopRunsAtEachScheduledTimeWithJitterAndNeverOverlaps(t *testing.T) {
	t.Parallel()
	spec, err := Parse("0 */6 * * *")
	require.NoError(t, err)
	clock := &fakeClock{now: base.Add(-time.Hour)}
	var runs []Run
	err = Loop(context.Background(), Options{Spec: spec, Clock: clock, Jitter: 10 * time.Minute, MaxRuns: 4,
		Rand: func(n int64) int64 { return n / 2 }}, func(_ context.Context, r Run) {
		runs = append(runs, r)
		if r.N == 2 {
			clock.advance(13 * time.Hour) // runs past two scheduled times: both are missed, not run late
		}
	})
	require.NoError(t, err)
	require.Len(t, runs, 4)
	var got []string
	for _, r := range runs {
		got = append(got, r.Scheduled.Format("15:04")+" started "+r.Started.Format("15:04")+" missed "+string(rune('0'+r.Missed)))
	}
	assert.Equal(t, []string{"12:00 started 12:05 missed 0", "18:00 started 18:05 missed 0", "12:00 started 12:05 missed 2", "18:00 started 18:05 missed 0"}, got)
	assert.Equal(t, []time.Duration{65 * time.Minute, 6 * time.Hour, 4*time.Hour + 55*time.Minute + 5*time.Minute, 6 * time.Hour}, clock.sleeps)
}

func TestLoopStopsCleanlyWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	spec, err := Parse("@hourly")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &fakeClock{now: base, cancel: cancel, after: 3}
	n := 0
	require.NoError(t, Loop(ctx, Options{Spec: spec, Clock: clock}, func(context.Context, Run) { n++ }))
	assert.Equal(t, 2, n, "the signal came while waiting for the third run")

	// A run that sees the context end is the last one.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	n = 0
	require.NoError(t, Loop(ctx2, Options{Spec: spec, Clock: &fakeClock{now: base}}, func(context.Context, Run) {
		n++
		cancel2()
	}))
	assert.Equal(t, 1, n)
}

func TestRealClockSleepEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, RealClock{}.Sleep(ctx, time.Hour), context.Canceled)
	assert.NoError(t, RealClock{}.Sleep(context.Background(), 0))
}
