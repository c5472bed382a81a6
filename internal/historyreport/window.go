package historyreport

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is how far back a report looks (--since): a number of days, weeks, calendar months or years
// before the newest run, or all of the history.
type Window struct {
	text string
	n    int
	unit byte // d, w, m or y; 0 for all
}

// DefaultWindow is the window of a report when none is given.
const DefaultWindow = "90d"

// ParseWindow reads a window: Nd (days), Nw (weeks), Nm (calendar months, not minutes), Ny (years) or all.
func ParseWindow(s string) (Window, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "all" {
		return Window{text: t}, nil
	}
	if len(t) >= 2 {
		unit := t[len(t)-1]
		n, err := strconv.Atoi(t[:len(t)-1])
		if err == nil && n >= 1 && n <= 100000 && strings.IndexByte("dwmy", unit) >= 0 {
			return Window{text: t, n: n, unit: unit}, nil
		}
	}
	return Window{}, fmt.Errorf("--since %q: use a number of days (90d), weeks (2w), months (6m) or years (1y), or all", s)
}

// String is the window as given.
func (w Window) String() string {
	if w.text == "" {
		return DefaultWindow
	}
	return w.text
}

// All says whether the window takes every run.
func (w Window) All() bool { return w.text == "all" }

// From is the start of the window that ends at now (zero for all).
func (w Window) From(now time.Time) time.Time {
	switch w.unit {
	case 'd':
		return now.AddDate(0, 0, -w.n)
	case 'w':
		return now.AddDate(0, 0, -7*w.n)
	case 'm':
		return now.AddDate(0, -w.n, 0)
	case 'y':
		return now.AddDate(-w.n, 0, 0)
	}
	if w.text == "" {
		return now.AddDate(0, 0, -90)
	}
	return time.Time{}
}
