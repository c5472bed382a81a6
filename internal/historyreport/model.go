// Package historyreport is the multi-run report of a history store (audit history report): compliance over
// time per tenant, environment and rule, the drift timeline, how long resolved findings had been open, and
// the findings open longest. A Builder takes the runs one at a time, oldest first, and keeps only what the
// report shows, so a history of hundreds of runs is never held in memory at once. The same model renders as
// JSON (the canonical form, described by docs/history-report.schema.json), HTML and Markdown. Nothing in it
// depends on the time it is built: the same history and options give the same report, byte for byte.
package historyreport

import (
	"encoding/json"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// SchemaVersion is the version of the JSON history report (docs/history-report.schema.json).
const SchemaVersion = 1

// Report is everything a format renders.
type Report struct {
	SchemaVersion int         `json:"schema_version"`
	Tool          report.Tool `json:"tool"`
	Period        Period      `json:"period"`
	Filters       Filters     `json:"filters"`
	Summary       Summary     `json:"summary"`
	// Runs are the runs of the period, oldest first, complete or not.
	Runs       []Run      `json:"runs"`
	Compliance Compliance `json:"compliance"`
	// Timeline holds, for each complete run that changed something, what changed since the previous complete
	// run of its scope.
	Timeline []Event `json:"timeline"`
	// Resolutions are the findings resolved during the period, in the order they were resolved.
	Resolutions []Resolution `json:"resolutions"`
	// TimeToResolve is the time from first seen to resolved, per rule, for the rules with a resolution.
	TimeToResolve []RuleTime `json:"time_to_resolve"`
	// Open are the findings still failing at their last reading, oldest first.
	Open []OpenFinding `json:"open"`
}

// Period is the stretch of history the report covers: the runs that started from From to To.
type Period struct {
	Since string    `json:"since"` // as given: 90d, 2w, 6m, all
	From  time.Time `json:"from"`  // To less Since; the first run's start for all
	// To is the start of the newest run in the history: the report's "now", so that it depends on the data
	// only.
	To time.Time `json:"to"`
}

// Filters are the tenant and environment patterns the report was limited to (none: everything).
type Filters struct {
	Tenants      []string `json:"tenants"`
	Environments []string `json:"environments"`
}

// Summary is the report at a glance.
type Summary struct {
	Runs         int `json:"runs"`
	CompleteRuns int `json:"complete_runs"`
	// FirstCompliance and LastCompliance are the compliance of the first and the last complete run of the
	// period that evaluated something (nil: none did).
	FirstCompliance *float64 `json:"first_compliance"`
	LastCompliance  *float64 `json:"last_compliance"`
	NewFailures     int      `json:"new_failures"`
	Resolved        int      `json:"resolved"`
	Inventory       int      `json:"inventory_changes"`
	Open            int      `json:"open"`
	// MedianSecondsToResolve is the median time from first seen to resolved over every resolution (nil: none).
	MedianSecondsToResolve *int64 `json:"median_seconds_to_resolve"`
}

// Run is one run of the period.
type Run struct {
	ID           int64      `json:"id"`
	StartedAt    time.Time  `json:"started_at"`
	CollectedAt  *time.Time `json:"collected_at,omitempty"` // complete runs: the scan time
	Status       string     `json:"status"`                 // complete, interrupted or failed
	Trigger      string     `json:"trigger"`
	Scope        string     `json:"scope"`
	ToolVersion  string     `json:"tool_version"`
	PolicyDigest string     `json:"policy_digest"`
	ExitCode     int        `json:"exit_code"`
	Error        string     `json:"error,omitempty"`
	// Counts and Compliance are those of the run's pairs that the filters keep (complete runs only).
	Counts     report.Counts `json:"counts,omitempty"`
	Compliance *float64      `json:"compliance,omitempty"`
}

// Complete says whether the run has results.
func (r Run) Complete() bool { return r.CollectedAt != nil }

// Compliance is the share of compliant pairs in each run, per tenant, environment and rule.
type Compliance struct {
	Tenants      []TenantSeries      `json:"tenants"`
	Environments []EnvironmentSeries `json:"environments"`
	Rules        []RuleSeries        `json:"rules"`
}

// Point is one run's reading of a series: its pairs by status, and the share of them that comply.
type Point struct {
	RunID  int64         `json:"run_id"`
	Counts report.Counts `json:"counts"`
	// Compliance is (pass + waived) / (pass + waived + fail): a waived failure is accepted, as the scan
	// report counts it; not applicable and error (not audited) are left out. Nil when nothing was evaluated.
	Compliance *float64 `json:"compliance"`
}

// TenantSeries is a tenant's compliance over the runs that listed its environments or could not.
type TenantSeries struct {
	Tenant string  `json:"tenant"`
	Points []Point `json:"points"`
}

// EnvironmentSeries is an environment's compliance over the runs that found it.
type EnvironmentSeries struct {
	Tenant        string  `json:"tenant"`
	EnvironmentID string  `json:"environment_id"`
	Environment   string  `json:"environment"` // its name in the newest run that found it
	Points        []Point `json:"points"`
}

// RuleSeries is a rule's compliance over the runs that evaluated it.
type RuleSeries struct {
	RuleID   string  `json:"rule_id"`
	Title    string  `json:"title"`
	Severity string  `json:"severity"`
	Points   []Point `json:"points"`
}

// Event is what changed at one complete run, since the previous complete run of its scope.
type Event struct {
	RunID       int64     `json:"run_id"`
	At          time.Time `json:"at"`
	Scope       string    `json:"scope"`
	BaselineRun int64     `json:"baseline_run"`
	BaselineAt  time.Time `json:"baseline_at"`
	NewFailures []Finding `json:"new_failures"`
	Resolved    []Finding `json:"resolved"`
	Inventory   []Change  `json:"inventory"`
}

// Finding is an (environment, rule) pair whose failure began or ended at an event.
type Finding struct {
	Tenant        string        `json:"tenant"`
	EnvironmentID string        `json:"environment_id"`
	Environment   string        `json:"environment"`
	RuleID        string        `json:"rule_id"`
	Title         string        `json:"title"`
	Severity      string        `json:"severity"`
	Status        policy.Status `json:"status"`
	FirstSeen     time.Time     `json:"first_seen"`
	FirstSeenRun  int64         `json:"first_seen_run,omitempty"`
	// ComparedWithRun is set when the pair was compared with an earlier run than the event's baseline: the
	// baseline could not read it (an outage), so it was compared with the last run that did.
	ComparedWithRun int64 `json:"compared_with_run,omitempty"`
}

// Change is an inventory change at an event.
type Change struct {
	Kind            string `json:"kind"`
	Tenant          string `json:"tenant"`
	EnvironmentID   string `json:"environment_id"`
	Environment     string `json:"environment"`
	Before          string `json:"before,omitempty"`
	After           string `json:"after,omitempty"`
	Description     string `json:"description"`
	ComparedWithRun int64  `json:"compared_with_run,omitempty"`
}

// Resolution is a finding resolved during the period and how long it had been open.
type Resolution struct {
	Tenant        string        `json:"tenant"`
	EnvironmentID string        `json:"environment_id"`
	Environment   string        `json:"environment"`
	RuleID        string        `json:"rule_id"`
	Title         string        `json:"title"`
	Severity      string        `json:"severity"`
	Status        policy.Status `json:"status"` // its status once resolved: pass, not_applicable or waived
	FirstSeen     time.Time     `json:"first_seen"`
	FirstSeenRun  int64         `json:"first_seen_run,omitempty"`
	ResolvedAt    time.Time     `json:"resolved_at"` // the scan time of the run that found it resolved
	ResolvedRun   int64         `json:"resolved_run"`
	OpenSeconds   int64         `json:"open_seconds"`
}

// RuleTime is how long a rule's resolved findings had been open.
type RuleTime struct {
	RuleID         string `json:"rule_id"`
	Title          string `json:"title"`
	Severity       string `json:"severity"`
	Resolved       int    `json:"resolved"`
	MedianSeconds  int64  `json:"median_seconds"`
	LongestSeconds int64  `json:"longest_seconds"`
}

// OpenFinding is a pair that failed at its last reading.
type OpenFinding struct {
	Tenant        string    `json:"tenant"`
	EnvironmentID string    `json:"environment_id"`
	Environment   string    `json:"environment"`
	RuleID        string    `json:"rule_id"`
	Title         string    `json:"title"`
	Severity      string    `json:"severity"`
	Message       string    `json:"message,omitempty"`
	FirstSeen     time.Time `json:"first_seen"`
	FirstSeenRun  int64     `json:"first_seen_run,omitempty"`
	AgeSeconds    int64     `json:"age_seconds"` // from first seen to the period's end
	// LastReadRun is the run whose reading says it fails: the newest run of its scope, or, when that run
	// could not read it, the last run that did.
	LastReadRun int64     `json:"last_read_run"`
	LastReadAt  time.Time `json:"last_read_at"`
}

// MarshalJSON writes a complete run with its counts and compliance always (compliance null when nothing was
// evaluated), and a run that did not complete without them.
func (r Run) MarshalJSON() ([]byte, error) {
	type plain Run
	if !r.Complete() {
		return json.Marshal(plain(r))
	}
	counts := r.Counts
	if counts == nil {
		counts = report.Counts{}
	}
	return json.Marshal(struct {
		plain
		Counts     report.Counts `json:"counts"`
		Compliance *float64      `json:"compliance"`
	}{plain(r), counts, r.Compliance})
}
