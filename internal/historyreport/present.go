package historyreport

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// statuses are the result statuses in the order tables show them.
var statuses = report.Statuses

// percent is a share as a person reads it: "75%", "66.7%", or "n/a" when nothing was evaluated.
func percent(v *float64) string {
	if v == nil {
		return "n/a"
	}
	s := strconv.FormatFloat(*v*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// duration is a time open as a person reads it.
func duration(secs int64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d < time.Hour:
		return "less than an hour"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return plural(int(d/(24*time.Hour)), "day", "days")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// longTime and shortTime are times in UTC, as the scan report writes them.
func longTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 January 2006, 15:04 UTC")
}

func shortTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// scopeLabel names a run's scope: all, or its shard and environment filters.
func scopeLabel(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// first and last are a series' first and last compliance that is known.
func first(ps []Point) *float64 {
	for _, p := range ps {
		if p.Compliance != nil {
			return p.Compliance
		}
	}
	return nil
}

func last(ps []Point) *float64 {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Compliance != nil {
			return ps[i].Compliance
		}
	}
	return nil
}

// failing is the number of failing pairs in a series' newest point.
func failing(ps []Point) int {
	if len(ps) == 0 {
		return 0
	}
	return ps[len(ps)-1].Counts[policy.StatusFail]
}

// tenantNames lists the tenants the report covers.
func tenantNames(r *Report) string {
	var names []string
	for _, t := range r.Compliance.Tenants {
		names = append(names, t.Tenant)
	}
	if len(names) == 0 {
		return "no tenant"
	}
	return strings.Join(names, ", ")
}

// filterText says what the report was limited to, or "" for everything.
func filterText(f Filters) string {
	var parts []string
	if len(f.Tenants) > 0 {
		parts = append(parts, "tenants "+strings.Join(f.Tenants, ", "))
	}
	if len(f.Environments) > 0 {
		parts = append(parts, "environments "+strings.Join(f.Environments, ", "))
	}
	return strings.Join(parts, "; ")
}

// headline is the summary in one sentence.
func headline(r *Report) string {
	s := r.Summary
	var parts []string
	if s.FirstCompliance != nil {
		parts = append(parts, fmt.Sprintf("compliance %s → %s", percent(s.FirstCompliance), percent(s.LastCompliance)))
	}
	parts = append(parts, plural(s.NewFailures, "new failure", "new failures"))
	res := plural(s.Resolved, "resolution", "resolutions")
	if s.MedianSecondsToResolve != nil {
		res += fmt.Sprintf(" (median %s from first seen)", duration(*s.MedianSecondsToResolve))
	}
	parts = append(parts, res, plural(s.Inventory, "inventory change", "inventory changes"), plural(s.Open, "open finding", "open findings"))
	out := strings.Join(parts, ", ")
	return strings.ToUpper(out[:1]) + out[1:] + "."
}

// runLine describes the period's runs.
func runLine(r *Report) string {
	s := r.Summary
	text := plural(s.Runs, "run", "runs")
	if s.CompleteRuns != s.Runs {
		text += fmt.Sprintf(", %d complete", s.CompleteRuns)
	}
	return text
}

// changeLabel is the name of a timeline entry's kind.
func changeLabel(kind string) string {
	switch kind {
	case "new_failure":
		return "New failure"
	case "resolved":
		return "Resolved"
	}
	return "Inventory"
}

// limit is how many open findings the HTML and Markdown reports list; the JSON report lists them all.
const limit = 100

func openShown(r *Report) []OpenFinding {
	if len(r.Open) > limit {
		return r.Open[:limit]
	}
	return r.Open
}
