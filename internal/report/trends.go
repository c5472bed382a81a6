package report

import (
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
)

// TrendRuns is how many runs the trends of a report cover at most: the report's own and the earlier complete
// runs of its scope in the history, newest first, up to this many in all.
const TrendRuns = 30

// Trends is how the failing results changed over the last runs of a history (scan --history): by severity,
// by rule and by environment, a value per run.
type Trends struct {
	// Runs are the runs covered, oldest first; the last is the report's own. Every series below has a value
	// per run, in this order.
	Runs         []TrendRun         `json:"runs"`
	Rules        []RuleTrend        `json:"rules"`
	Environments []EnvironmentTrend `json:"environments"`
	// FleetWide is set on the trends of a tenant's page of a fleet report (ForTenant): its environments are the
	// tenant's, but its runs and rules count the whole fleet's results.
	FleetWide bool `json:"-"`
}

// TrendRun is one run of the history: when it collected, and its failing results by severity.
type TrendRun struct {
	RunID       int64          `json:"run_id"`
	CollectedAt time.Time      `json:"collected_at"`
	Failing     map[string]int `json:"failing"` // severity → failing results, every severity present
}

// RuleTrend is one rule's failing results in each run: nil where the run has no result of the rule (a rule
// added since).
type RuleTrend struct {
	RuleID  string `json:"rule_id"`
	Failing []*int `json:"failing"`
}

// EnvironmentTrend is one environment's failing results in each run: nil where the run did not read it (it
// could not be read, or it was not in the run). FailingSince is when its oldest failure still open was first
// seen, when it fails now: it has failed without a break since then.
type EnvironmentTrend struct {
	Tenant        string     `json:"tenant"`
	EnvironmentID string     `json:"environment_id"`
	Environment   string     `json:"environment"`
	Failing       []*int     `json:"failing"`
	FailingSince  *time.Time `json:"failing_since,omitempty"`
}

// PastRun is an earlier run of a history as trends read it.
type PastRun struct {
	RunID       int64
	CollectedAt time.Time
	// BySeverity and ByRule count failing results; ByRule has every rule the run has a result of.
	BySeverity map[string]int
	ByRule     map[string]int
	// ByEnvironment counts failing results by lower-case environment ID; nil for an environment the run
	// could not read. An environment not in the run is not in the map.
	ByEnvironment map[string]*int
}

// CurrentRun is how the report itself reads as the newest run of its trends.
func CurrentRun(r *Report, runID int64) PastRun {
	p := PastRun{RunID: runID, CollectedAt: r.CollectedAt.UTC(), BySeverity: map[string]int{}, ByRule: map[string]int{},
		ByEnvironment: map[string]*int{}}
	for _, res := range r.Results {
		env := strings.ToLower(res.EnvironmentID)
		n, listed := p.ByEnvironment[env]
		if n == nil && res.Status != policy.StatusError {
			n = new(int) // read: not every result of it is an error
		}
		if !listed || n != nil {
			p.ByEnvironment[env] = n
		}
		if _, ok := p.ByRule[res.RuleID]; !ok {
			p.ByRule[res.RuleID] = 0
		}
		if res.Status == policy.StatusFail {
			p.BySeverity[res.Severity]++
			p.ByRule[res.RuleID]++
			*n++
		}
	}
	return p
}

// NewTrends puts the trends together from the earlier runs (oldest first, at most TrendRuns-1 of them: the
// oldest are dropped), the report as the newest run, and when each of its failing pairs was first seen (by
// lower-case environment ID and rule ID).
func NewTrends(past []PastRun, cur PastRun, r *Report, firstSeen map[[2]string]time.Time) *Trends {
	if len(past) > TrendRuns-1 {
		past = past[len(past)-(TrendRuns-1):]
	}
	runs := append(append([]PastRun{}, past...), cur)
	t := &Trends{Runs: make([]TrendRun, 0, len(runs)), Rules: []RuleTrend{}, Environments: make([]EnvironmentTrend, 0, len(r.Environments))}
	for _, run := range runs {
		tr := TrendRun{RunID: run.RunID, CollectedAt: run.CollectedAt.UTC(), Failing: map[string]int{}}
		for _, sev := range policy.Severities {
			tr.Failing[sev] = run.BySeverity[sev]
		}
		t.Runs = append(t.Runs, tr)
	}
	// Rules: the report's catalog, then any rule that only earlier runs had, by ID.
	var ids []string
	seen := map[string]bool{}
	for _, rule := range r.Rules {
		ids, seen[rule.ID] = append(ids, rule.ID), true
	}
	var gone []string
	for _, run := range past {
		for id := range run.ByRule {
			if !seen[id] {
				gone, seen[id] = append(gone, id), true
			}
		}
	}
	sort.Strings(gone)
	for _, id := range append(ids, gone...) {
		rt := RuleTrend{RuleID: id, Failing: make([]*int, len(runs))}
		for i, run := range runs {
			if n, ok := run.ByRule[id]; ok {
				rt.Failing[i] = &n
			}
		}
		t.Rules = append(t.Rules, rt)
	}
	// Environments: the report's, in its order.
	since := map[string]time.Time{}
	for k, at := range firstSeen {
		if old, ok := since[k[0]]; !ok || at.Before(old) {
			since[k[0]] = at
		}
	}
	for _, e := range r.Environments {
		id := strings.ToLower(e.ID)
		et := EnvironmentTrend{Tenant: e.Tenant, EnvironmentID: e.ID, Environment: e.Name, Failing: make([]*int, len(runs))}
		for i, run := range runs {
			if n := run.ByEnvironment[id]; n != nil {
				v := *n
				et.Failing[i] = &v
			}
		}
		if at, ok := since[id]; ok && e.Counts[policy.StatusFail] > 0 {
			at = at.UTC()
			et.FailingSince = &at
		}
		t.Environments = append(t.Environments, et)
	}
	return t
}
