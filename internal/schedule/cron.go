// Package schedule runs a job on a cron schedule in the foreground: standard 5-field cron expressions, a
// random start delay (jitter), runs that never overlap, and a clean stop when the context ends. The clock is
// an interface so that tests run a day of schedule in microseconds.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed standard cron expression: minute, hour, day of month, month and day of week. The fields
// are read by github.com/robfig/cron/v3, the parser Kubernetes reads CronJob schedules with; Parse adds
// clearer messages and the few checks it does not make.
type Spec struct {
	expr  string
	sched *cron.SpecSchedule
	// fixedTime is set when neither the minute nor the hour starts with "*": such a time runs once on the
	// night clocks go back, as in Vixie cron, not at both of the repeated wall-clock times.
	fixedTime bool
}

// fields names the five fields in order, with what each accepts, for messages.
var fields = []string{"minute (0-59)", "hour (0-23)", "day of month (1-31)", "month (1-12 or jan-dec)", "day of week (0-6 or sun-sat, 0 is Sunday)"}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// shorthands are the descriptors accepted; the parser's @every is not cron and is refused.
var shorthands = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

// Parse reads a standard 5-field cron expression ("0 */6 * * *"): lists, ranges, steps, month and day
// names, and the @hourly … @yearly shorthands. A sixth (seconds) field and a time zone prefix are refused.
func Parse(expr string) (*Spec, error) {
	src := strings.TrimSpace(expr)
	if strings.HasPrefix(src, "@") {
		src = strings.ToLower(src)
		if !shorthands[src] {
			return nil, fmt.Errorf("cron %q: unknown shorthand (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)", expr)
		}
		s, err := parser.Parse(src)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", expr, err)
		}
		return &Spec{expr: expr, sched: s.(*cron.SpecSchedule), fixedTime: src != "@hourly"}, nil
	}
	fs := strings.Fields(src)
	switch {
	case len(fs) > 0 && (strings.HasPrefix(fs[0], "TZ=") || strings.HasPrefix(fs[0], "CRON_TZ=")):
		return nil, fmt.Errorf("cron %q: give the time zone with --tz, not in the expression", expr)
	case len(fs) == 6:
		return nil, fmt.Errorf("cron %q has 6 fields: seconds are not supported; use the standard 5 fields: minute hour day-of-month month day-of-week", expr)
	case len(fs) != 5:
		return nil, fmt.Errorf("cron %q has %d fields: use the standard 5 fields: minute hour day-of-month month day-of-week (e.g. \"0 */6 * * *\")", expr, len(fs))
	}
	for i, f := range fs {
		// The parser reads "1,,2" as "1,2"; an empty list item is more likely a typo than a wish.
		for _, item := range strings.Split(f, ",") {
			if item == "" {
				return nil, fmt.Errorf("cron %q: %s %q: empty list item", expr, fields[i], f)
			}
		}
	}
	s, err := parser.Parse(strings.Join(fs, " "))
	if err != nil {
		return nil, fmt.Errorf("cron %q: %s", expr, fieldError(fs, err))
	}
	return &Spec{expr: expr, sched: s.(*cron.SpecSchedule), fixedTime: !strings.HasPrefix(fs[0], "*") && !strings.HasPrefix(fs[1], "*")}, nil
}

// fieldError names the field the parser refused: each field is parsed again alone.
func fieldError(fs []string, err error) string {
	for i := range fs {
		alone := []string{"*", "*", "*", "*", "*"}
		alone[i] = fs[i]
		if _, ferr := parser.Parse(strings.Join(alone, " ")); ferr != nil {
			return fmt.Sprintf("%s %q: %v", fields[i], fs[i], ferr)
		}
	}
	return err.Error()
}

// String returns the expression as given.
func (s *Spec) String() string { return s.expr }

// Next returns the first time after t (strictly) that the expression matches, in t's location, to the
// minute. It returns the zero time when nothing matches within five years (such as 30 February). A time that
// a daylight-saving change skips is skipped that day; on the night clocks go back, a fixed time (such as
// "30 1 * * *") runs at its first occurrence only, while times whose minute or hour is a wildcard or a step
// ("*/30 * * * *") go on through the repeated hour.
func (s *Spec) Next(t time.Time) time.Time {
	n := s.sched.Next(t.Truncate(time.Minute).Add(time.Minute - time.Second))
	if s.fixedTime && !n.IsZero() && sameWallClock(n, t) {
		n = s.sched.Next(n)
	}
	return n
}

// sameWallClock says whether a and b read the same on a wall clock, to the minute: the two occurrences of a
// time in the hour that a daylight-saving change repeats.
func sameWallClock(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}
