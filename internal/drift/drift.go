// Package drift compares two scans: failures that are new, resolved or persisting (with when they were first
// seen), and changes in the inventory the guide asks administrators to record (environments, the application
// user and its roles, the service user, the Work 365 version). It reads report models only, so the scans can
// come from the history store, from snapshot files evaluated again, or from JSON reports. Within a history,
// what the earlier scan could not read is compared with the last scan that read it (Scan.LastRead), so an
// outage is never the baseline of what it could not read.
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
	// LastRead holds, for what this scan could not read, the earlier scan that last read it (a history
	// knows; two files do not).
	LastRead LastRead
}

// LastRead says, for what a scan could not read, which earlier scan of the history last read it: a pair
// whose result is error, an environment whose collection failed, and everything of a tenant whose
// environment list failed. What no earlier scan read is not in it, and neither is what a scan found gone (an
// environment deleted or filtered out while its tenant was listed, a tenant no longer configured): that is
// not an outage.
type LastRead struct {
	Pairs        map[Key]Reading    // the last scan that evaluated the pair
	Environments map[string]Reading // by lower-case ID: the last scan that read the environment
	Tenants      map[string]*Scan   // by name: the last scan that listed the tenant's environments
}

// Reading is the scan that last read something, and the tenant that something belongs to.
type Reading struct {
	Tenant string
	Scan   *Scan
}

// Len is the number of entries.
func (l LastRead) Len() int { return len(l.Pairs) + len(l.Environments) + len(l.Tenants) }

func (s Scan) seen(k Key) Seen {
	if v, ok := s.FirstSeen[k]; ok {
		return v
	}
	return Seen{At: s.Report.CollectedAt.UTC(), RunID: s.RunID}
}

func (s *Scan) baseline() *report.Baseline {
	return &report.Baseline{RunID: s.RunID, File: s.File, CollectedAt: s.Report.CollectedAt.UTC()}
}

func key(r policy.Result) Key {
	return Key{EnvironmentID: strings.ToLower(r.EnvironmentID), RuleID: r.RuleID}
}

// index is a scan's report by pair, environment and tenant.
type index struct {
	results      map[Key]policy.Result
	environments map[string]report.Environment
	tenants      map[string]report.Tenant
}

// indexes builds each report's index once per comparison.
type indexes map[*report.Report]*index

func (ix indexes) of(s *Scan) *index {
	if x := ix[s.Report]; x != nil {
		return x
	}
	x := &index{results: map[Key]policy.Result{}, environments: map[string]report.Environment{}, tenants: map[string]report.Tenant{}}
	for _, r := range s.Report.Results {
		x.results[key(r)] = r
	}
	for _, e := range s.Report.Environments {
		x.environments[strings.ToLower(e.ID)] = e
	}
	for _, t := range s.Report.Tenants {
		x.tenants[t.Name] = t
	}
	ix[s.Report] = x
	return x
}

// pair is the baseline of a pair: before when before evaluated it, else the scan that last did, with its
// result there; nil when none did.
func (ix indexes) pair(before *Scan, k Key) (*Scan, policy.Result) {
	if before == nil {
		return nil, policy.Result{}
	}
	if r, ok := ix.of(before).results[k]; ok && r.Status != policy.StatusError {
		return before, r
	}
	if rd, ok := before.LastRead.Pairs[k]; ok && rd.Scan != nil {
		if r, ok := ix.of(rd.Scan).results[k]; ok && r.Status != policy.StatusError {
			return rd.Scan, r
		}
	}
	return nil, policy.Result{}
}

// environment is the baseline of an environment's inventory: before when before read it, else the scan
// that last did; nil when none did.
func (ix indexes) environment(before *Scan, id string) (*Scan, report.Environment) {
	if before == nil {
		return nil, report.Environment{}
	}
	if e, ok := ix.of(before).environments[id]; ok && e.CollectionStatus != "error" {
		return before, e
	}
	if rd, ok := before.LastRead.Environments[id]; ok && rd.Scan != nil {
		if e, ok := ix.of(rd.Scan).environments[id]; ok && e.CollectionStatus != "error" {
			return rd.Scan, e
		}
	}
	return nil, report.Environment{}
}

// listing is the baseline of a tenant's environment list: before when before listed the tenant's
// environments or did not know the tenant, else the scan that last listed them; nil when none did.
func (ix indexes) listing(before *Scan, tenant string) *Scan {
	t, known := ix.of(before).tenants[tenant]
	if !known || t.Error == "" {
		return before
	}
	return before.LastRead.Tenants[tenant]
}

// FirstSeen says, for each failing pair of cur, when its failure was first seen: when the pair's baseline
// (before, or the earlier scan that last read the pair if before could not; nil: no baseline) failed on it
// too, then when that scan first saw it; otherwise in cur.
func FirstSeen(before *Scan, cur Scan) map[Key]Seen {
	ix := indexes{}
	out := map[Key]Seen{}
	for _, r := range cur.Report.Results {
		if r.Status != policy.StatusFail {
			continue
		}
		k := key(r)
		if s, p := ix.pair(before, k); s != nil && p.Status == policy.StatusFail {
			out[k] = s.seen(k)
		} else {
			out[k] = cur.seen(k)
		}
	}
	return out
}

// Unread says, for what cur could not read, which scan last read it: before when before did, else the scan
// that before's LastRead names. It is cur's LastRead once cur is recorded after before (nil: the first scan).
func Unread(before *Scan, cur Scan) LastRead {
	out := LastRead{Pairs: map[Key]Reading{}, Environments: map[string]Reading{}, Tenants: map[string]*Scan{}}
	if before == nil {
		return out
	}
	ix := indexes{}
	carryPair := func(tenant string, k Key) {
		if s, _ := ix.pair(before, k); s != nil {
			out.Pairs[k] = Reading{Tenant: tenant, Scan: s}
		}
	}
	carryEnvironment := func(tenant, id string) {
		if s, _ := ix.environment(before, id); s != nil {
			out.Environments[id] = Reading{Tenant: tenant, Scan: s}
		}
	}
	for _, r := range cur.Report.Results {
		if r.Status == policy.StatusError {
			carryPair(r.Tenant, key(r))
		}
	}
	for _, e := range cur.Report.Environments {
		if e.CollectionStatus == "error" {
			carryEnvironment(e.Tenant, strings.ToLower(e.ID))
		}
	}
	// A tenant whose environments could not be listed: everything before knew of it, as before knew it.
	for _, t := range cur.Report.Tenants {
		if t.Error == "" {
			continue
		}
		if s := ix.listing(before, t.Name); s != nil {
			out.Tenants[t.Name] = s
		}
		for _, r := range before.Report.Results {
			if r.Tenant == t.Name {
				carryPair(t.Name, key(r))
			}
		}
		for k, rd := range before.LastRead.Pairs {
			if rd.Tenant == t.Name {
				carryPair(t.Name, k)
			}
		}
		for _, e := range before.Report.Environments {
			if e.Tenant == t.Name {
				carryEnvironment(t.Name, strings.ToLower(e.ID))
			}
		}
		for id, rd := range before.LastRead.Environments {
			if rd.Tenant == t.Name {
				carryEnvironment(t.Name, id)
			}
		}
	}
	return out
}

// Compare lists what changed from before to after. Each pair is compared with its baseline: before, or,
// when before could not read the pair (its result was error, or its tenant's environments could not be
// listed), the earlier scan that last read it (before.LastRead). A pair is a new failure when it fails now
// and did not fail in its baseline (whatever it was: passing, waived, or not there; a pair no scan read
// before has no baseline); resolved when it failed in its baseline and now passes, is not applicable or is
// waived; persisting when it failed in both. A pair that could not be read now is none of these: nothing is
// known of it. Inventories are compared the same way, environment by environment, and a tenant's
// environments are added or removed against the last scan that listed them. An entry whose baseline is not
// before names its own.
func Compare(before, after Scan) *report.Drift {
	d := &report.Drift{
		Baseline:    *before.baseline(),
		NewFailures: []report.DriftResult{}, Resolved: []report.DriftResult{}, Persisting: []report.DriftResult{},
		Inventory: []report.InventoryChange{},
	}
	ix := indexes{}
	own := func(s *Scan) *report.Baseline {
		if s == nil || s.Report == before.Report {
			return nil
		}
		return s.baseline()
	}
	for _, r := range after.Report.Results {
		if r.Status == policy.StatusError {
			continue
		}
		k := key(r)
		s, p := ix.pair(&before, k)
		wasFailing := s != nil && p.Status == policy.StatusFail
		var e report.DriftResult
		switch {
		case r.Status == policy.StatusFail && !wasFailing:
			e = entry(r, r.Message, after.seen(k))
			d.NewFailures = append(d.NewFailures, withBaseline(e, own(s)))
		case r.Status == policy.StatusFail:
			e = entry(r, r.Message, s.seen(k))
			d.Persisting = append(d.Persisting, withBaseline(e, own(s)))
		case wasFailing:
			e = entry(r, p.Message, s.seen(k))
			d.Resolved = append(d.Resolved, withBaseline(e, own(s)))
		}
	}
	d.Inventory = inventoryChanges(ix, &before, after.Report, own)
	d.Summarize()
	return d
}

func entry(r policy.Result, msg string, s Seen) report.DriftResult {
	return report.DriftResult{Tenant: r.Tenant, EnvironmentID: r.EnvironmentID, Environment: r.EnvironmentName, RuleID: r.RuleID,
		Title: r.Title, Severity: r.Severity, Status: r.Status, Message: msg, FirstSeen: s.At.UTC(), FirstSeenRun: s.RunID}
}

func withBaseline(e report.DriftResult, b *report.Baseline) report.DriftResult {
	e.Baseline = b
	return e
}

// inventoryChanges compares the environments of after with their baselines. A tenant's environments are
// added or removed against the last scan that listed them (none while its list cannot be read, or when no
// scan ever listed it); each environment's inventory against the last scan that read it (none while it
// cannot be read).
func inventoryChanges(ix indexes, before *Scan, after *report.Report, own func(*Scan) *report.Baseline) []report.InventoryChange {
	envKey := func(e report.Environment) string { return strings.ToLower(e.ID) }
	out := []report.InventoryChange{}
	add := func(kind string, e report.Environment, before, after string, b *report.Baseline) {
		out = append(out, report.InventoryChange{Kind: kind, Tenant: e.Tenant, EnvironmentID: e.ID, Environment: e.Name, Before: before,
			After: after, Baseline: b})
	}
	// The scan that last listed each tenant's environments, for the tenants of either side; nil: unknown.
	listed := map[string]*Scan{}
	unlisted := map[string]bool{}
	for _, t := range after.Tenants {
		if t.Error != "" {
			unlisted[t.Name] = true
			continue
		}
		listed[t.Name] = ix.listing(before, t.Name)
	}
	for _, t := range before.Report.Tenants {
		if _, ok := listed[t.Name]; !ok && !unlisted[t.Name] {
			listed[t.Name] = ix.listing(before, t.Name)
		}
	}
	for name, s := range before.LastRead.Tenants {
		if _, ok := listed[name]; !ok && !unlisted[name] {
			listed[name] = s
		}
	}
	now := map[string]bool{}
	for _, e := range after.Environments {
		now[envKey(e)] = true
		l := listed[e.Tenant]
		if l == nil {
			continue
		}
		if _, ok := ix.of(l).environments[envKey(e)]; !ok {
			add(report.EnvironmentAdded, e, "", e.Name, own(l))
			continue
		}
		// An environment that cannot be read now, or was never read, says nothing about its inventory.
		if e.CollectionStatus == "error" {
			continue
		}
		s, o := ix.environment(before, envKey(e))
		if s == nil {
			continue
		}
		for _, c := range environmentChanges(o, e) {
			add(c.Kind, e, c.Before, c.After, own(s))
		}
	}
	order := map[string]int{}
	for i, e := range after.Environments {
		order[envKey(e)] = i
	}
	tenants := make([]string, 0, len(listed))
	for name := range listed {
		tenants = append(tenants, name)
	}
	sort.Strings(tenants)
	for _, tenant := range tenants {
		l := listed[tenant]
		if l == nil {
			continue
		}
		for _, e := range l.Report.Environments {
			if e.Tenant == tenant && !now[envKey(e)] {
				order[envKey(e)] = len(order)
				add(report.EnvironmentRemoved, e, e.Name, "", own(l))
			}
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
