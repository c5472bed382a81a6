package policy

import (
	"fmt"
	"sort"
	"sync"
	"time"

	globs "github.com/work365/audit/internal/glob"
)

// Waiver accepts a known failure until a date, with a reason and an owner.
type Waiver struct {
	Rule        string // rule ID, glob allowed
	Environment string // environment ID or name, glob allowed
	Tenant      string // optional tenant name, glob allowed
	Object      string // optional: only failures whose every named object matches (glob)
	Reason      string
	Owner       string
	Ticket      string
	Expires     time.Time // the last day the waiver applies, compared in UTC
	Where       string    // where it was declared (file:line), for warnings
}

// Waivers applies a set of waivers to results and remembers which ones were used, so that stale waivers can be
// reported. Apply may be called for each batch of results (an evaluation phase, or an environment of a
// streaming scan), from several goroutines at once.
type Waivers struct {
	mu      sync.Mutex
	list    []Waiver
	now     time.Time
	matched []bool
	expired []bool
}

// NewWaivers prepares waivers for results evaluated at now.
func NewWaivers(list []Waiver, now time.Time) *Waivers {
	return &Waivers{list: list, now: now.UTC(), matched: make([]bool, len(list)), expired: make([]bool, len(list))}
}

// active reports whether the waiver still applies on w.now's UTC date.
func (ws *Waivers) active(w Waiver) bool {
	y, m, d := ws.now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	ey, em, ed := w.Expires.UTC().Date()
	return !today.After(time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC))
}

// Apply turns failing results covered by an active waiver into waived ones, carrying the waiver's details.
// A failure covered only by expired waivers stays failing and carries the expired waiver, so reports say so.
func (ws *Waivers) Apply(results []Result) {
	if ws == nil {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for i := range results {
		r := &results[i]
		if r.Status != StatusFail {
			continue
		}
		objects := namedObjects(r.Evidence)
		var expired *Waiver
		for j, w := range ws.list {
			if !ws.matches(w, r, objects) {
				continue
			}
			if ws.active(w) {
				ws.matched[j] = true
				r.Status = StatusWaived
				r.Waiver = info(w, false)
				expired = nil
				break
			}
			ws.expired[j] = true
			if expired == nil {
				expired = &ws.list[j]
			}
		}
		if expired != nil {
			r.Waiver = info(*expired, true)
		}
	}
}

func info(w Waiver, expired bool) *WaiverInfo {
	return &WaiverInfo{Reason: w.Reason, Owner: w.Owner, Ticket: w.Ticket, Expires: w.Expires.UTC().Format(time.DateOnly), Expired: expired}
}

func (ws *Waivers) matches(w Waiver, r *Result, objects []string) bool {
	if !glob(w.Rule, r.RuleID) {
		return false
	}
	if !glob(w.Environment, r.EnvironmentID) && !glob(w.Environment, r.EnvironmentName) {
		return false
	}
	if w.Tenant != "" && !glob(w.Tenant, r.Tenant) {
		return false
	}
	if w.Object == "" {
		return true
	}
	if len(objects) == 0 {
		return false
	}
	for _, o := range objects {
		if !glob(w.Object, o) {
			return false
		}
	}
	return true
}

// Warnings describes the waivers that matched no failing result and those that expired, so that exceptions
// do not outlive their reason unnoticed.
func (ws *Waivers) Warnings() []string {
	if ws == nil {
		return nil
	}
	var out []string
	for j, w := range ws.list {
		desc := fmt.Sprintf("waiver for %s in %q", w.Rule, w.Environment)
		if w.Where != "" {
			desc += " (" + w.Where + ")"
		}
		switch {
		case ws.expired[j] && !ws.matched[j]:
			out = append(out, fmt.Sprintf("%s expired on %s and no longer applies: renew it with a new date or fix the failure",
				desc, w.Expires.UTC().Format(time.DateOnly)))
		case !ws.matched[j] && !ws.expired[j]:
			out = append(out, fmt.Sprintf("%s matches no failing result: remove it if the exception is over, or correct its rule or environment", desc))
		}
	}
	sort.Strings(out)
	return out
}

func glob(pattern, s string) bool { return globs.Match(pattern, s) }

// nameKeys are the keys that name an object in a rule's evidence, in order of preference.
var nameKeys = []string{"name", "title", "full_name", "logical_name"}

// namedObjects lists the objects a failure names: the name of every object in the evidence's lists
// (flows, templates, roles, people, jobs). Owners nested inside those objects are not objects of the failure.
func namedObjects(evidence map[string]any) []string {
	var out []string
	for _, v := range evidence {
		items, ok := v.([]any)
		if !ok {
			continue
		}
		for _, it := range items {
			obj, ok := it.(map[string]any)
			if !ok {
				continue
			}
			for _, k := range nameKeys {
				if s, ok := obj[k].(string); ok && s != "" {
					out = append(out, s)
					break
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
