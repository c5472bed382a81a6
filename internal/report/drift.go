package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
)

// Drift is what changed since an earlier scan: the "changed since last scan" section of a report whose scan
// kept a history (audit scan --history), or the output of audit diff.
type Drift struct {
	Baseline    Baseline          `json:"baseline"`
	Summary     DriftSummary      `json:"summary"`
	NewFailures []DriftResult     `json:"new_failures"`
	Resolved    []DriftResult     `json:"resolved"`
	Persisting  []DriftResult     `json:"persisting"`
	Inventory   []InventoryChange `json:"inventory"`
}

// Summarize counts the drift's entries into its summary, with when the oldest persisting failure was first seen.
func (d *Drift) Summarize() {
	d.Summary = DriftSummary{NewFailures: len(d.NewFailures), Resolved: len(d.Resolved), Persisting: len(d.Persisting),
		InventoryChanges: len(d.Inventory)}
	for _, p := range d.Persisting {
		if d.Summary.OldestFirstSeen == nil || p.FirstSeen.Before(*d.Summary.OldestFirstSeen) {
			t := p.FirstSeen
			d.Summary.OldestFirstSeen = &t
		}
	}
}

// Baseline identifies the earlier scan a drift compares with.
type Baseline struct {
	RunID       int64     `json:"run_id,omitempty"` // the run in the history store
	File        string    `json:"file,omitempty"`   // or the snapshot or report file
	CollectedAt time.Time `json:"collected_at"`
}

// DriftSummary counts a drift's entries.
type DriftSummary struct {
	NewFailures      int `json:"new_failures"`
	Resolved         int `json:"resolved"`
	Persisting       int `json:"persisting"`
	InventoryChanges int `json:"inventory_changes"`
	// OldestFirstSeen is when the oldest persisting failure was first seen.
	OldestFirstSeen *time.Time `json:"oldest_first_seen,omitempty"`
}

// DriftResult is one (environment, rule) pair whose failure started, ended or persists.
type DriftResult struct {
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Environment   string `json:"environment"`
	RuleID        string `json:"rule_id"`
	Title         string `json:"title"`
	Severity      string `json:"severity"`
	// Status is the pair's status now: fail for new and persisting failures; pass, not_applicable or
	// waived for resolved ones.
	Status  policy.Status `json:"status"`
	Message string        `json:"message,omitempty"` // the failure's message (the earlier one for a resolved failure)
	// FirstSeen is when the failure was first seen in the unbroken run of scans that found it (scans that
	// could not read the pair do not break it); for a comparison of two files without a history, the earlier
	// file's collection time (failing at least since).
	FirstSeen    time.Time `json:"first_seen"`
	FirstSeenRun int64     `json:"first_seen_run,omitempty"`
	// Baseline is set when the pair was compared with an earlier scan than the drift's baseline: the baseline
	// could not read it (its environment or tenant could not be read), so the pair was compared with the last
	// scan of the history that did.
	Baseline *Baseline `json:"baseline,omitempty"`
}

// Inventory change kinds.
const (
	EnvironmentAdded        = "environment_added"
	EnvironmentRemoved      = "environment_removed"
	RoleAdded               = "role_added"
	RoleRemoved             = "role_removed"
	ApplicationUserChanged  = "application_user_changed"
	ApplicationUserDisabled = "application_user_disabled"
	ApplicationUserEnabled  = "application_user_enabled"
	ServiceUserChanged      = "service_user_changed"
	Work365Installed        = "work365_installed"
	Work365Removed          = "work365_removed"
	Work365Upgraded         = "work365_upgraded"
	Work365Downgraded       = "work365_downgraded"
)

// InventoryChange is a change in what the guide asks administrators to record: the environments, the
// application user, its roles, the service user and the Work 365 version.
type InventoryChange struct {
	Kind          string `json:"kind"`
	Tenant        string `json:"tenant"`
	EnvironmentID string `json:"environment_id"`
	Environment   string `json:"environment"`
	Before        string `json:"before,omitempty"`
	After         string `json:"after,omitempty"`
	// Baseline is set when the environment was compared with an earlier scan than the drift's baseline, the
	// last one that could read it (or list its tenant's environments).
	Baseline *Baseline `json:"baseline,omitempty"`
}

// Describe says what changed, as a person reads it.
func (c InventoryChange) Describe() string {
	q := func(s string) string {
		if s == "" {
			return "none"
		}
		return fmt.Sprintf("%q", s)
	}
	switch c.Kind {
	case EnvironmentAdded:
		return "environment added"
	case EnvironmentRemoved:
		return "environment removed"
	case RoleAdded:
		return fmt.Sprintf("role %q added to the application user", c.After)
	case RoleRemoved:
		return fmt.Sprintf("role %q removed from the application user", c.Before)
	case ApplicationUserChanged:
		return fmt.Sprintf("application user changed from %s to %s", q(c.Before), q(c.After))
	case ApplicationUserDisabled:
		return fmt.Sprintf("application user %q disabled", c.Before)
	case ApplicationUserEnabled:
		return fmt.Sprintf("application user %q enabled", c.After)
	case ServiceUserChanged:
		return fmt.Sprintf("service user changed from %s to %s", q(c.Before), q(c.After))
	case Work365Installed:
		return fmt.Sprintf("Work 365 %s installed", c.After)
	case Work365Removed:
		return fmt.Sprintf("Work 365 %s no longer installed", c.Before)
	case Work365Upgraded:
		return fmt.Sprintf("Work 365 upgraded from %s to %s", c.Before, c.After)
	case Work365Downgraded:
		return fmt.Sprintf("Work 365 downgraded from %s to %s", c.Before, c.After)
	}
	return strings.ReplaceAll(c.Kind, "_", " ")
}

// Line is the one-line summary of a drift that a scan prints.
func (d *Drift) Line() string {
	s := d.Summary
	parts := []string{plural(s.NewFailures, "new failure", "new failures"), fmt.Sprintf("%d resolved", s.Resolved)}
	p := fmt.Sprintf("%d persisting", s.Persisting)
	if s.OldestFirstSeen != nil {
		p += " (oldest since " + s.OldestFirstSeen.UTC().Format("2 Jan 2006") + ")"
	}
	parts = append(parts, p, plural(s.InventoryChanges, "inventory change", "inventory changes"))
	line := strings.Join(parts, ", ") + " since " + d.Baseline.Describe()
	if e := d.Earlier(); e != "" {
		line += "; " + e
	}
	return line
}

// Earlier says how many entries were compared with an earlier scan than the baseline, because the baseline
// could not read them, and with which: "" when none was.
func (d *Drift) Earlier() string {
	n := 0
	var oldest *Baseline
	distinct := map[Baseline]bool{}
	note := func(b *Baseline) {
		if b == nil {
			return
		}
		n++
		distinct[*b] = true
		if oldest == nil || b.CollectedAt.Before(oldest.CollectedAt) {
			oldest = b
		}
	}
	for _, list := range [][]DriftResult{d.NewFailures, d.Resolved, d.Persisting} {
		for _, x := range list {
			note(x.Baseline)
		}
	}
	for _, c := range d.Inventory {
		note(c.Baseline)
	}
	switch {
	case n == 0:
		return ""
	case len(distinct) == 1:
		return fmt.Sprintf("%s compared with %s, the last scan that could read %s", plural(n, "entry", "entries"), oldest.Describe(),
			map[bool]string{true: "it", false: "them"}[n == 1])
	}
	return fmt.Sprintf("%s compared with the last earlier scan that could read each, as far back as %s", plural(n, "entry", "entries"), oldest.Describe())
}

// Describe names the baseline: the run of the history, or the file, and when it was collected.
func (b Baseline) Describe() string {
	when := b.CollectedAt.UTC().Format("2 January 2006, 15:04 UTC")
	switch {
	case b.RunID > 0:
		return fmt.Sprintf("run %d (%s)", b.RunID, when)
	case b.File != "":
		return fmt.Sprintf("%s (%s)", b.File, when)
	}
	return "the scan of " + when
}

// Age says how long ago t was, seen from now, in whole days or hours.
func Age(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return "less than an hour"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return plural(int(d/(24*time.Hour)), "day", "days")
}

// Shard says which part of a sharded scan (audit scan --shard INDEX/COUNT) a report covers; audit merge
// combines the reports of all COUNT parts into the report of the whole scan, which has no shard.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}
