package history

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// fleetRep is a report of two environments, E1 (severity high) and E2 (critical), each judged by the three rules
// of rep, with the statuses given in rule order.
func fleetRep(at time.Time, e1, e2 [3]string) *report.Report {
	r := &report.Report{SchemaVersion: 1, CollectedAt: at, GeneratedAt: at, FailOn: "high",
		Summary: report.Summary{Results: report.Counts{}, BySeverity: map[string]report.Counts{}}}
	for _, env := range []struct {
		id, sev  string
		statuses [3]string
	}{{"E1", "high", e1}, {"E2", "critical", e2}} {
		for i, st := range env.statuses {
			r.Results = append(r.Results, policy.Result{Tenant: "contoso", EnvironmentID: env.id, EnvironmentName: env.id,
				RuleID: []string{"W365.ROLES.1", "W365.ROLES.2", "W365.ROLES.3"}[i], Status: policy.Status(st), Severity: env.sev})
			if r.Summary.BySeverity[env.sev] == nil {
				r.Summary.BySeverity[env.sev] = report.Counts{}
			}
			r.Summary.BySeverity[env.sev][policy.Status(st)]++
		}
	}
	return r
}

// Trend reads the last complete runs of one scope, oldest first and at most as many as asked, before a run:
// failing results by severity from their summaries, by rule and by environment from the pairs kept, an
// environment none of whose results was read being nil.
func TestTrendReadsTheLastCompleteRunsOfAScope(t *testing.T) {
	t.Parallel()
	s, err := Acquire(ctx, filepath.Join(t.TempDir(), "h.db"), t0)
	require.NoError(t, err)
	defer s.Close()

	past, err := s.Trend(ctx, "", 0, 29)
	require.NoError(t, err)
	assert.Empty(t, past, "an empty history")

	r1 := record(t, s, t0, "", fleetRep(t0, [3]string{"fail", "pass", "pass"}, [3]string{"error", "error", "error"}), Retention{})
	record(t, s, t0.Add(time.Hour), "env=E1", fleetRep(t0, [3]string{"fail", "fail", "fail"}, [3]string{"pass", "pass", "pass"}), Retention{})
	record(t, s, t0.Add(2*time.Hour), "", nil, Retention{})
	r4 := record(t, s, t0.Add(3*time.Hour), "", fleetRep(t0.Add(3*time.Hour), [3]string{"fail", "fail", "waived"}, [3]string{"pass", "error", "fail"}), Retention{})
	r5 := record(t, s, t0.Add(4*time.Hour), "", fleetRep(t0.Add(4*time.Hour), [3]string{"pass", "pass", "pass"}, [3]string{"pass", "pass", "pass"}), Retention{})

	past, err = s.Trend(ctx, "", 0, 2)
	require.NoError(t, err)
	require.Len(t, past, 2)
	assert.Equal(t, []int64{r4, r5}, []int64{past[0].RunID, past[1].RunID}, "the newest two, oldest first")

	past, err = s.Trend(ctx, "", r5, 29)
	require.NoError(t, err)
	require.Len(t, past, 2, "complete runs of the scope before run 5: not the other scope's, not the interrupted one")
	first, second := past[0], past[1]
	assert.Equal(t, report.PastRun{RunID: r1, CollectedAt: t0, BySeverity: map[string]int{"high": 1},
		ByRule:        map[string]int{"W365.ROLES.1": 1, "W365.ROLES.2": 0, "W365.ROLES.3": 0},
		ByEnvironment: map[string]*int{"e1": intp(1), "e2": nil}}, first)
	assert.Equal(t, report.PastRun{RunID: r4, CollectedAt: t0.Add(3 * time.Hour), BySeverity: map[string]int{"high": 2, "critical": 1},
		ByRule:        map[string]int{"W365.ROLES.1": 1, "W365.ROLES.2": 1, "W365.ROLES.3": 1},
		ByEnvironment: map[string]*int{"e1": intp(2), "e2": intp(1)}}, second)
}

func intp(n int) *int { return &n }

// BenchmarkTrend reads the trends of a history of 30 runs of the demo's size (12 environments) and of a
// fleet's (1,000), 15 rules each, one result in ten failing.
func BenchmarkTrend(b *testing.B) {
	for _, envs := range []int{12, 1000} {
		b.Run(fmt.Sprintf("%d_environments", envs), func(b *testing.B) {
			s, err := Acquire(ctx, filepath.Join(b.TempDir(), "h.db"), t0)
			require.NoError(b, err)
			defer s.Close()
			for run := range report.TrendRuns {
				at := t0.Add(time.Duration(run) * time.Hour)
				r := &report.Report{SchemaVersion: 1, CollectedAt: at, GeneratedAt: at, FailOn: "high",
					Summary: report.Summary{BySeverity: map[string]report.Counts{"high": {}}}}
				for e := range envs {
					for rule := range 15 {
						st := policy.StatusPass
						if (e+rule+run)%10 == 0 {
							st = policy.StatusFail
						}
						r.Results = append(r.Results, policy.Result{Tenant: "t", EnvironmentID: fmt.Sprintf("env-%04d", e),
							RuleID: fmt.Sprintf("W365.R.%d", rule), Status: st, Severity: "high"})
						r.Summary.BySeverity["high"][st]++
					}
				}
				id, err := s.NextID(ctx)
				require.NoError(b, err)
				_, err = s.Add(ctx, Record{Run: Run{ID: id, StartedAt: at, FinishedAt: at, Status: StatusComplete, Trigger: "scan",
					CollectedAt: at}, Report: r}, Retention{})
				require.NoError(b, err)
			}
			for b.Loop() {
				past, err := s.Trend(ctx, "", 0, report.TrendRuns-1)
				if err != nil || len(past) != report.TrendRuns-1 {
					b.Fatal(err, len(past))
				}
			}
		})
	}
}
