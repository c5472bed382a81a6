// Package schedule runs a job on a cron schedule in the foreground: standard 5-field cron expressions, a
// random start delay (jitter), runs that never overlap, and a clean stop when the context ends. The clock is
// an interface so that tests run a day of schedule in microseconds.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is a parsed standard cron expression: minute, hour, day of month, month and day of week.
type Spec struct {
	expr                          string
	minute, hour, dom, month, dow uint64 // bit i set when value i matches
	domAny, dowAny                bool   // the field was "*" (or "?"): the other day field decides alone
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day of month", min: 1, max: 31}
	monthField  = field{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	// Day of week 7 is Sunday too, as in Vixie cron.
	dowField = field{name: "day of week", min: 0, max: 7, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse reads a standard 5-field cron expression ("0 */6 * * *"): lists, ranges, steps, month and day
// names, and the @hourly … @yearly shorthands. A sixth (seconds) field is refused.
func Parse(expr string) (*Spec, error) {
	src := strings.TrimSpace(expr)
	if m, ok := macros[strings.ToLower(src)]; ok {
		src = m
	} else if strings.HasPrefix(src, "@") {
		return nil, fmt.Errorf("cron %q: unknown shorthand (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)", expr)
	}
	fs := strings.Fields(src)
	switch {
	case len(fs) == 6:
		return nil, fmt.Errorf("cron %q has 6 fields: seconds are not supported; use the standard 5 fields: minute hour day-of-month month day-of-week", expr)
	case len(fs) != 5:
		return nil, fmt.Errorf("cron %q has %d fields: use the standard 5 fields: minute hour day-of-month month day-of-week (e.g. \"0 */6 * * *\")", expr, len(fs))
	}
	s := &Spec{expr: expr}
	var err error
	for i, p := range []struct {
		f    field
		dst  *uint64
		star *bool
	}{{minuteField, &s.minute, nil}, {hourField, &s.hour, nil}, {domField, &s.dom, &s.domAny}, {monthField, &s.month, nil}, {dowField, &s.dow, &s.dowAny}} {
		if *p.dst, err = parseField(fs[i], p.f); err != nil {
			return nil, fmt.Errorf("cron %q: %w", expr, err)
		}
		if p.star != nil {
			*p.star = fs[i] == "*" || fs[i] == "?"
		}
	}
	if s.dow&(1<<7) != 0 {
		s.dow |= 1
	}
	return s, nil
}

// String returns the expression as given.
func (s *Spec) String() string { return s.expr }

func parseField(text string, f field) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s %q: empty list item", f.name, text)
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%s %q: step %q is not a positive number", f.name, item, stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if f.name == dowField.name {
				hi = 6 // 7 would repeat Sunday in */2 and the like
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, f); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = value(b, f); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("%s %q: range goes backwards", f.name, item)
				}
			} else if hasStep {
				hi = f.max // "5/15" means from 5 to the end, every 15
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func value(s string, f field) (int, error) {
	if n, ok := f.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", f.name, s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%s: %d is outside %d-%d", f.name, n, f.min, f.max)
	}
	return n, nil
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// dayMatches applies cron's rule for the two day fields: when both are restricted, either may match.
func (s *Spec) dayMatches(t time.Time) bool {
	d, w := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	switch {
	case s.domAny && s.dowAny:
		return true
	case s.domAny:
		return w
	case s.dowAny:
		return d
	}
	return d || w
}

// Next returns the first time after t (strictly) that the expression matches, in t's location, to the
// minute. It returns the zero time when nothing matches within five years (such as 30 February).
func (s *Spec) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
	limit := t.Year() + 5
	for t.Year() <= limit {
		if !has(s.month, int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if !has(s.hour, t.Hour()) {
			next := time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			if !next.After(t) { // a daylight-saving fold repeats the hour: step past it
				next = t.Add(time.Hour - time.Duration(t.Minute())*time.Minute)
			}
			t = next
			continue
		}
		if !has(s.minute, t.Minute()) {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}
