// Package drift compares two scans: failures that are new, resolved or persisting (with when they were first
// seen), and changes in the inventory the guide asks administrators to record (environments, the application
// user and its roles, the service user, the Work 365 version). It reads report models only, so the scans can
// come from the history store, from snapshot files evaluated again, or from JSON reports.
package drift

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// Key names an (environment, rule) pair.
type Key struct {
	EnvironmentID string
	RuleID        string
}

// Seen is when a failure was first seen, and in which run of the history (0 outside a history).
type Seen struct {
	At    time.Time
	RunID int64
}

// Scan is one side of a comparison.
type Scan struct {
	Report *report.Report
	RunID  int64  // its run in the history, 0 otherwise
	File   string // or the file it was read from
	// FirstSeen holds, for its failing pairs, when each failure was first seen; a pair missing from it was
	// first seen in this scan.
	FirstSeen map[Key]Seen
}

func (s Scan) seen(k Key) Seen {
	if v, ok := s.FirstSeen[k]; ok {
		return v
	}
	return Seen{At: s.Report.CollectedAt.UTC(), RunID: s.RunID}
}

func key(r policy.Result) Key {
	return Key{EnvironmentID: strings.ToLower(r.EnvironmentID), RuleID: r.RuleID}
}

// FirstSeen says, for each failing pair of cur, when its failure was first seen: when before (the baseline,
// nil without one) failed on the same pair too, then when before first saw it; otherwise in cur.
func FirstSeen(before *Scan, cur Scan) map[Key]Seen {
	failedBefore := map[Key]bool{}
	if before != nil {
		for _, r := range before.Report.Results {
			if r.Status == policy.StatusFail {
				failedBefore[key(r)] = true
			}
		}
	}
	out := map[Key]Seen{}
	for _, r := range cur.Report.Results {
		if r.Status != policy.StatusFail {
			continue
		}
		k := key(r)
		if failedBefore[k] {
			out[k] = before.seen(k)
		} else {
			out[k] = cur.seen(k)
		}
	}
	return out
}

// Compare lists what changed from before to after. A pair is a new failure when it fails now and did not
// fail before (whatever it was: passing, waived, not read, or not there); resolved when it failed before and
// now passes, is not applicable or is waived; persisting when it failed both times. A pair that failed before
// and now could not be read (error) is none of these: nothing is known of it. Environments of a tenant whose
// environment list could not be read on either side are not reported as added or removed.
func Compare(before, after Scan) *report.Drift {
	d := &report.Drift{
		Baseline:    report.Baseline{RunID: before.RunID, File: before.File, CollectedAt: before.Report.CollectedAt.UTC()},
		NewFailures: []report.DriftResult{}, Resolved: []report.DriftResult{}, Persisting: []report.DriftResult{},
		Inventory: []report.InventoryChange{},
	}
	prev := map[Key]policy.Result{}
	for _, r := range before.Report.Results {
		prev[key(r)] = r
	}
	seen := FirstSeen(&before, after)
	for _, r := range after.Report.Results {
		k := key(r)
		p, had := prev[k]
		wasFailing := had && p.Status == policy.StatusFail
		switch {
		case r.Status == policy.StatusFail && !wasFailing:
			d.NewFailures = append(d.NewFailures, entry(r, r.Message, seen[k]))
		case r.Status == policy.StatusFail:
			d.Persisting = append(d.Persisting, entry(r, r.Message, seen[k]))
		case wasFailing && r.Status != policy.StatusError:
			e := entry(r, p.Message, before.seen(k))
			d.Resolved = append(d.Resolved, e)
		}
	}
	d.Inventory = inventoryChanges(before.Report, after.Report)
	d.Summary = report.DriftSummary{NewFailures: len(d.NewFailures), Resolved: len(d.Resolved), Persisting: len(d.Persisting),
		InventoryChanges: len(d.Inventory)}
	for _, p := range d.Persisting {
		if d.Summary.OldestFirstSeen == nil || p.FirstSeen.Before(*d.Summary.OldestFirstSeen) {
			t := p.FirstSeen
			d.Summary.OldestFirstSeen = &t
		}
	}
	return d
}

func entry(r policy.Result, msg string, s Seen) report.DriftResult {
	return report.DriftResult{Tenant: r.Tenant, EnvironmentID: r.EnvironmentID, Environment: r.EnvironmentName, RuleID: r.RuleID,
		Title: r.Title, Severity: r.Severity, Status: r.Status, Message: msg, FirstSeen: s.At.UTC(), FirstSeenRun: s.RunID}
}

func inventoryChanges(before, after *report.Report) []report.InventoryChange {
	unlisted := map[string]bool{}
	for _, r := range []*report.Report{before, after} {
		for _, t := range r.Tenants {
			if t.Error != "" {
				unlisted[t.Name] = true
			}
		}
	}
	envKey := func(e report.Environment) string { return strings.ToLower(e.ID) }
	old := map[string]report.Environment{}
	for _, e := range before.Environments {
		old[envKey(e)] = e
	}
	now := map[string]bool{}
	out := []report.InventoryChange{}
	add := func(kind string, e report.Environment, before, after string) {
		out = append(out, report.InventoryChange{Kind: kind, Tenant: e.Tenant, EnvironmentID: e.ID, Environment: e.Name, Before: before, After: after})
	}
	for _, e := range after.Environments {
		now[envKey(e)] = true
		o, ok := old[envKey(e)]
		if !ok {
			if !unlisted[e.Tenant] {
				add(report.EnvironmentAdded, e, "", e.Name)
			}
			continue
		}
		// An environment that could not be read on one side says nothing about its inventory.
		if o.CollectionStatus == "error" || e.CollectionStatus == "error" {
			continue
		}
		for _, c := range environmentChanges(o, e) {
			add(c.Kind, e, c.Before, c.After)
		}
	}
	for _, e := range before.Environments {
		if !now[envKey(e)] && !unlisted[e.Tenant] {
			add(report.EnvironmentRemoved, e, e.Name, "")
		}
	}
	order := map[string]int{}
	for i, e := range after.Environments {
		order[envKey(e)] = i
	}
	for i, e := range before.Environments {
		if _, ok := order[envKey(e)]; !ok {
			order[envKey(e)] = len(after.Environments) + i
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return order[strings.ToLower(a.EnvironmentID)] < order[strings.ToLower(b.EnvironmentID)]
	})
	return out
}

// environmentChanges compares the inventories of one environment.
func environmentChanges(before, after report.Environment) []report.InventoryChange {
	var out []report.InventoryChange
	add := func(kind, b, a string) { out = append(out, report.InventoryChange{Kind: kind, Before: b, After: a}) }
	bi, ai := before.Inventory, after.Inventory
	switch {
	case bi == nil && ai == nil:
		return nil
	case bi == nil:
		add(report.Work365Installed, "", ai.Work365Version)
		return out
	case ai == nil:
		add(report.Work365Removed, bi.Work365Version, "")
		return out
	}
	switch c := compareVersions(bi.Work365Version, ai.Work365Version); {
	case c < 0:
		add(report.Work365Upgraded, bi.Work365Version, ai.Work365Version)
	case c > 0:
		add(report.Work365Downgraded, bi.Work365Version, ai.Work365Version)
	}
	ba, aa := bi.ApplicationUser, ai.ApplicationUser
	switch {
	case userID(ba) != userID(aa):
		add(report.ApplicationUserChanged, userName(ba), userName(aa))
	case ba != nil && ba.Enabled && !aa.Enabled:
		add(report.ApplicationUserDisabled, userName(ba), userName(aa))
	case ba != nil && !ba.Enabled && aa.Enabled:
		add(report.ApplicationUserEnabled, userName(ba), userName(aa))
	}
	if userID(ba) == userID(aa) && aa != nil {
		had, has := set(bi.Roles), set(ai.Roles)
		for _, r := range bi.Roles {
			if !has[r] {
				add(report.RoleRemoved, r, "")
			}
		}
		for _, r := range ai.Roles {
			if !had[r] {
				add(report.RoleAdded, "", r)
			}
		}
	}
	if userID(bi.ServiceUser) != userID(ai.ServiceUser) {
		add(report.ServiceUserChanged, userName(bi.ServiceUser), userName(ai.ServiceUser))
	}
	return out
}

func userID(u *report.User) string {
	if u == nil {
		return ""
	}
	return strings.ToLower(u.ID)
}

func userName(u *report.User) string {
	if u == nil {
		return ""
	}
	if u.DomainName != "" {
		return u.Name + " (" + u.DomainName + ")"
	}
	return u.Name
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// compareVersions compares dotted versions numerically (3.10 > 3.9); a part that is not a number compares
// as text.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, errX := strconv.Atoi(x)
		yn, errY := strconv.Atoi(y)
		switch {
		case errX == nil && errY == nil && xn != yn:
			if xn < yn {
				return -1
			}
			return 1
		case (errX != nil || errY != nil) && x != y:
			return strings.Compare(x, y)
		}
	}
	return 0
}
