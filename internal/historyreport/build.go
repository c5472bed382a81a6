package historyreport

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/glob"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// Options shape a report.
type Options struct {
	Window Window
	// Tenants and Environments are glob patterns (internal/glob) of tenant names, and of environment names
	// or IDs; none keeps everything.
	Tenants      []string
	Environments []string
	ToolVersion  string
}

// RunInfo is what a Builder needs of a run besides its scans.
type RunInfo struct {
	ID           int64
	StartedAt    time.Time
	Status       string // complete, interrupted or failed
	Trigger      string
	Scope        string
	ToolVersion  string
	PolicyDigest string
	ExitCode     int
	Error        string
}

// Builder makes a report from runs given one at a time, oldest first. It keeps the report's counts and
// entries, and for each scope the last reading of each pair: never a run's report.
type Builder struct {
	opts     Options
	now      time.Time
	runs     []Run
	tenants  map[string]*TenantSeries
	envs     map[string]*EnvironmentSeries
	rules    map[string]*RuleSeries
	events   []Event
	resolved []Resolution
	// readings holds, per scope, the last reading of each pair the scope's newest run knows of.
	readings map[string]map[drift.Key]reading
}

// reading is what the newest run of a scope knows of a pair: its status at the last run that read it.
type reading struct {
	runID  int64
	at     time.Time
	result policy.Result // without its evidence, remediation and waiver, which belong to the run's report
	seen   drift.Seen
}

func readingOf(s *drift.Scan, r policy.Result, k drift.Key) reading {
	r.Evidence, r.Remediation, r.Waiver = nil, nil, nil
	return reading{runID: s.RunID, at: s.Report.CollectedAt.UTC(), result: r, seen: seenIn(s, k)}
}

// NewBuilder starts a report whose period ends at now: the start of the newest run in the history.
func NewBuilder(o Options, now time.Time) *Builder {
	return &Builder{opts: o, now: now.UTC(), tenants: map[string]*TenantSeries{}, envs: map[string]*EnvironmentSeries{},
		rules: map[string]*RuleSeries{}, readings: map[string]map[drift.Key]reading{}}
}

// Now is the end of the period.
func (b *Builder) Now() time.Time { return b.now }

// Add takes the next run of the period. cur is the run's scan as the history holds it (with its first-seen
// times and what it could not read), nil for a run that did not complete; before is the previous complete
// run of the same scope, nil when there is none. Add keeps neither.
func (b *Builder) Add(info RunInfo, before, cur *drift.Scan) {
	run := Run{ID: info.ID, StartedAt: info.StartedAt.UTC(), Status: info.Status, Trigger: info.Trigger, Scope: info.Scope,
		ToolVersion: info.ToolVersion, PolicyDigest: info.PolicyDigest, ExitCode: info.ExitCode, Error: info.Error}
	if cur == nil || cur.Report == nil {
		b.runs = append(b.runs, run)
		return
	}
	at := cur.Report.CollectedAt.UTC()
	run.CollectedAt = &at
	run.Counts = report.Counts{}
	b.count(cur, &run)
	b.runs = append(b.runs, run)
	if before != nil && before.Report != nil {
		b.compare(info, before, cur)
	}
	b.read(info.Scope, cur)
}

func (b *Builder) keepTenant(name string) bool { return glob.Any(b.opts.Tenants, name) }

func (b *Builder) keep(tenant, envName, envID string) bool {
	return b.keepTenant(tenant) && glob.Any(b.opts.Environments, envName, envID)
}

func (b *Builder) keepResult(r policy.Result) bool {
	return b.keep(r.Tenant, r.EnvironmentName, r.EnvironmentID)
}

// count adds the run's point to every series it reads.
func (b *Builder) count(cur *drift.Scan, run *Run) {
	rep := cur.Report
	points := map[any]report.Counts{}
	add := func(k any, s policy.Status) {
		c := points[k]
		if c == nil {
			c = report.Counts{}
			points[k] = c
		}
		c[s]++
	}
	type tenantKey string
	type ruleKey string
	tenant := func(name string) {
		if _, ok := points[tenantKey(name)]; !ok {
			points[tenantKey(name)] = report.Counts{}
		}
		if b.tenants[name] == nil {
			b.tenants[name] = &TenantSeries{Tenant: name}
		}
	}
	// A tenant whose environments could not be listed has a point with nothing evaluated, unless environment
	// patterns are given: then it is not known whether any of its environments would have been kept.
	for _, t := range rep.Tenants {
		if t.Error != "" && b.keepTenant(t.Name) && len(b.opts.Environments) == 0 {
			tenant(t.Name)
		}
	}
	for _, e := range rep.Environments {
		if !b.keep(e.Tenant, e.Name, e.ID) {
			continue
		}
		tenant(e.Tenant)
		id := strings.ToLower(e.ID)
		s := b.envs[id]
		if s == nil {
			s = &EnvironmentSeries{EnvironmentID: e.ID}
			b.envs[id] = s
		}
		s.Tenant, s.Environment = e.Tenant, e.Name
		points[id] = report.Counts{}
	}
	for _, r := range rep.Results {
		if !b.keepResult(r) {
			continue
		}
		run.Counts[r.Status]++
		add(tenantKey(r.Tenant), r.Status)
		add(strings.ToLower(r.EnvironmentID), r.Status)
		add(ruleKey(r.RuleID), r.Status)
		rs := b.rules[r.RuleID]
		if rs == nil {
			rs = &RuleSeries{RuleID: r.RuleID}
			b.rules[r.RuleID] = rs
		}
		rs.Title, rs.Severity = r.Title, r.Severity
	}
	run.Compliance = share(run.Counts)
	for k, c := range points {
		p := Point{RunID: run.ID, Counts: c, Compliance: share(c)}
		switch k := k.(type) {
		case tenantKey:
			if s := b.tenants[string(k)]; s != nil {
				s.Points = append(s.Points, p)
			}
		case ruleKey:
			b.rules[string(k)].Points = append(b.rules[string(k)].Points, p)
		case string:
			if s := b.envs[k]; s != nil {
				s.Points = append(s.Points, p)
			}
		}
	}
}

// share is the compliant share of the evaluated pairs, to four decimals; nil when none was evaluated.
func share(c report.Counts) *float64 {
	ok := c[policy.StatusPass] + c[policy.StatusWaived]
	n := ok + c[policy.StatusFail]
	if n == 0 {
		return nil
	}
	v := math.Round(float64(ok)/float64(n)*10000) / 10000
	return &v
}

// compare adds the run's drift from the previous run of its scope, as the scan computed it: what before
// could not read is compared with the last run that did.
func (b *Builder) compare(info RunInfo, before, cur *drift.Scan) {
	d := drift.Compare(*before, *cur)
	ev := Event{RunID: info.ID, At: cur.Report.CollectedAt.UTC(), Scope: info.Scope, BaselineRun: before.RunID,
		BaselineAt: before.Report.CollectedAt.UTC(), NewFailures: []Finding{}, Resolved: []Finding{}, Inventory: []Change{}}
	for _, x := range d.NewFailures {
		if b.keep(x.Tenant, x.Environment, x.EnvironmentID) {
			ev.NewFailures = append(ev.NewFailures, findingOf(x))
		}
	}
	for _, x := range d.Resolved {
		if !b.keep(x.Tenant, x.Environment, x.EnvironmentID) {
			continue
		}
		ev.Resolved = append(ev.Resolved, findingOf(x))
		b.resolved = append(b.resolved, Resolution{Tenant: x.Tenant, EnvironmentID: x.EnvironmentID, Environment: x.Environment,
			RuleID: x.RuleID, Title: x.Title, Severity: x.Severity, Status: x.Status, FirstSeen: x.FirstSeen.UTC(),
			FirstSeenRun: x.FirstSeenRun, ResolvedAt: ev.At, ResolvedRun: info.ID, OpenSeconds: seconds(ev.At.Sub(x.FirstSeen))})
	}
	for _, c := range d.Inventory {
		if b.keep(c.Tenant, c.Environment, c.EnvironmentID) {
			ev.Inventory = append(ev.Inventory, Change{Kind: c.Kind, Tenant: c.Tenant, EnvironmentID: c.EnvironmentID,
				Environment: c.Environment, Before: c.Before, After: c.After, Description: c.Describe(), ComparedWithRun: runOf(c.Baseline)})
		}
	}
	if len(ev.NewFailures)+len(ev.Resolved)+len(ev.Inventory) == 0 {
		return
	}
	sortFindings(ev.NewFailures)
	sortFindings(ev.Resolved)
	sort.SliceStable(ev.Inventory, func(i, j int) bool {
		a, c := ev.Inventory[i], ev.Inventory[j]
		return less(a.Tenant, c.Tenant, a.Environment, c.Environment, strings.ToLower(a.EnvironmentID), strings.ToLower(c.EnvironmentID))
	})
	b.events = append(b.events, ev)
}

func findingOf(x report.DriftResult) Finding {
	return Finding{Tenant: x.Tenant, EnvironmentID: x.EnvironmentID, Environment: x.Environment, RuleID: x.RuleID, Title: x.Title,
		Severity: x.Severity, Status: x.Status, FirstSeen: x.FirstSeen.UTC(), FirstSeenRun: x.FirstSeenRun, ComparedWithRun: runOf(x.Baseline)}
}

func runOf(b *report.Baseline) int64 {
	if b == nil {
		return 0
	}
	return b.RunID
}

func seconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}

// less compares pairs of strings in order: a[0] with a[1], then a[2] with a[3], and so on.
func less(a ...string) bool {
	for i := 0; i+1 < len(a); i += 2 {
		if a[i] != a[i+1] {
			return a[i] < a[i+1]
		}
	}
	return false
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, c := fs[i], fs[j]
		return less(a.Tenant, c.Tenant, a.Environment, c.Environment, strings.ToLower(a.EnvironmentID), strings.ToLower(c.EnvironmentID),
			a.RuleID, c.RuleID)
	})
}

// read replaces the scope's readings with those of its newest run: each pair the run read, and, for what it
// could not read, the reading of the last run that did (as drift carries it).
func (b *Builder) read(scope string, cur *drift.Scan) {
	out := map[drift.Key]reading{}
	index := map[*report.Report]map[drift.Key]policy.Result{}
	resultOf := func(s *drift.Scan, k drift.Key) (policy.Result, bool) {
		m := index[s.Report]
		if m == nil {
			m = map[drift.Key]policy.Result{}
			for _, r := range s.Report.Results {
				m[drift.Key{EnvironmentID: strings.ToLower(r.EnvironmentID), RuleID: r.RuleID}] = r
			}
			index[s.Report] = m
		}
		r, ok := m[k]
		return r, ok
	}
	carry := func(k drift.Key) {
		rd, ok := cur.LastRead.Pairs[k]
		if !ok || rd.Scan == nil || rd.Scan.Report == nil {
			return
		}
		if r, ok := resultOf(rd.Scan, k); ok && r.Status != policy.StatusError && b.keepResult(r) {
			out[k] = readingOf(rd.Scan, r, k)
		}
	}
	for _, r := range cur.Report.Results {
		k := drift.Key{EnvironmentID: strings.ToLower(r.EnvironmentID), RuleID: r.RuleID}
		switch {
		case r.Status == policy.StatusError:
			carry(k)
		case b.keepResult(r):
			out[k] = readingOf(cur, r, k)
		}
	}
	// Pairs of a tenant whose environments could not be listed are not in the run's results at all.
	for k := range cur.LastRead.Pairs {
		if _, ok := resultOf(cur, k); !ok {
			carry(k)
		}
	}
	b.readings[scope] = out
}

// seenIn is when a scan's failure of a pair was first seen: the history's first-seen time, or the scan's own.
func seenIn(s *drift.Scan, k drift.Key) drift.Seen {
	if v, ok := s.FirstSeen[k]; ok {
		return v
	}
	return drift.Seen{At: s.Report.CollectedAt.UTC(), RunID: s.RunID}
}

// Report completes the report.
func (b *Builder) Report() *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          report.Tool{Name: "audit", Version: b.opts.ToolVersion},
		Period:        Period{Since: b.opts.Window.String(), From: b.opts.Window.From(b.now), To: b.now},
		Filters:       Filters{Tenants: nonNil(b.opts.Tenants), Environments: nonNil(b.opts.Environments)},
		Runs:          nonNilRuns(b.runs),
		Compliance:    Compliance{Tenants: []TenantSeries{}, Environments: []EnvironmentSeries{}, Rules: []RuleSeries{}},
		Timeline:      b.events,
		Resolutions:   b.resolved,
		TimeToResolve: []RuleTime{},
		Open:          b.open(),
	}
	if r.Period.From.IsZero() && len(r.Runs) > 0 {
		r.Period.From = r.Runs[0].StartedAt
	}
	if r.Timeline == nil {
		r.Timeline = []Event{}
	}
	if r.Resolutions == nil {
		r.Resolutions = []Resolution{}
	}
	for _, s := range b.tenants {
		r.Compliance.Tenants = append(r.Compliance.Tenants, *s)
	}
	sort.Slice(r.Compliance.Tenants, func(i, j int) bool { return r.Compliance.Tenants[i].Tenant < r.Compliance.Tenants[j].Tenant })
	for _, s := range b.envs {
		r.Compliance.Environments = append(r.Compliance.Environments, *s)
	}
	sort.Slice(r.Compliance.Environments, func(i, j int) bool {
		a, c := r.Compliance.Environments[i], r.Compliance.Environments[j]
		return less(a.Tenant, c.Tenant, a.Environment, c.Environment, strings.ToLower(a.EnvironmentID), strings.ToLower(c.EnvironmentID))
	})
	for _, s := range b.rules {
		r.Compliance.Rules = append(r.Compliance.Rules, *s)
	}
	sort.Slice(r.Compliance.Rules, func(i, j int) bool { return r.Compliance.Rules[i].RuleID < r.Compliance.Rules[j].RuleID })
	sort.SliceStable(r.Resolutions, func(i, j int) bool {
		a, c := r.Resolutions[i], r.Resolutions[j]
		if a.ResolvedRun != c.ResolvedRun {
			return a.ResolvedRun < c.ResolvedRun
		}
		return less(a.Tenant, c.Tenant, a.Environment, c.Environment, strings.ToLower(a.EnvironmentID), strings.ToLower(c.EnvironmentID),
			a.RuleID, c.RuleID)
	})
	r.TimeToResolve = timeToResolve(r.Resolutions, r.Compliance.Rules)
	r.Summary = summarize(r)
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRuns(rs []Run) []Run {
	if rs == nil {
		return []Run{}
	}
	return rs
}

// open merges the scopes' readings: a pair is open when its newest reading, of any scope, fails. It was
// first seen when the earliest of the failing readings since its last passing one (of any scope) says: a
// scope's first run knows nothing of what the others saw before it.
func (b *Builder) open() []OpenFinding {
	all := map[drift.Key][]reading{}
	for _, m := range b.readings {
		for k, rd := range m {
			all[k] = append(all[k], rd)
		}
	}
	out := []OpenFinding{}
	for _, rds := range all {
		sort.Slice(rds, func(i, j int) bool { return rds[i].runID > rds[j].runID })
		newest := rds[0]
		if newest.result.Status != policy.StatusFail {
			continue
		}
		seen := newest.seen
		for _, rd := range rds {
			if rd.result.Status != policy.StatusFail {
				break
			}
			if rd.seen.At.Before(seen.At) {
				seen = rd.seen
			}
		}
		r := newest.result
		out = append(out, OpenFinding{Tenant: r.Tenant, EnvironmentID: r.EnvironmentID, Environment: r.EnvironmentName, RuleID: r.RuleID,
			Title: r.Title, Severity: r.Severity, Message: r.Message, FirstSeen: seen.At.UTC(), FirstSeenRun: seen.RunID,
			AgeSeconds: seconds(b.now.Sub(seen.At)), LastReadRun: newest.runID, LastReadAt: newest.at})
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if !a.FirstSeen.Equal(c.FirstSeen) {
			return a.FirstSeen.Before(c.FirstSeen)
		}
		return less(a.Tenant, c.Tenant, a.Environment, c.Environment, strings.ToLower(a.EnvironmentID), strings.ToLower(c.EnvironmentID),
			a.RuleID, c.RuleID)
	})
	return out
}

// timeToResolve is the median and longest time open per rule, by rule ID.
func timeToResolve(rs []Resolution, rules []RuleSeries) []RuleTime {
	by := map[string][]int64{}
	meta := map[string]RuleTime{}
	for _, r := range rs {
		by[r.RuleID] = append(by[r.RuleID], r.OpenSeconds)
		meta[r.RuleID] = RuleTime{RuleID: r.RuleID, Title: r.Title, Severity: r.Severity}
	}
	for _, s := range rules {
		if m, ok := meta[s.RuleID]; ok {
			m.Title, m.Severity = s.Title, s.Severity
			meta[s.RuleID] = m
		}
	}
	out := []RuleTime{}
	for id, secs := range by {
		m := meta[id]
		m.Resolved = len(secs)
		m.MedianSeconds = median(secs)
		for _, s := range secs {
			m.LongestSeconds = max(m.LongestSeconds, s)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleID < out[j].RuleID })
	return out
}

// median of a list of durations in seconds; of an even count, the mean of the middle two, rounded down.
func median(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarize(r *Report) Summary {
	s := Summary{Runs: len(r.Runs), Open: len(r.Open), Resolved: len(r.Resolutions)}
	for _, run := range r.Runs {
		if !run.Complete() {
			continue
		}
		s.CompleteRuns++
		if run.Compliance != nil {
			if s.FirstCompliance == nil {
				s.FirstCompliance = run.Compliance
			}
			s.LastCompliance = run.Compliance
		}
	}
	for _, e := range r.Timeline {
		s.NewFailures += len(e.NewFailures)
		s.Inventory += len(e.Inventory)
	}
	if len(r.Resolutions) > 0 {
		secs := make([]int64, len(r.Resolutions))
		for i, x := range r.Resolutions {
			secs[i] = x.OpenSeconds
		}
		m := median(secs)
		s.MedianSecondsToResolve = &m
	}
	return s
}
