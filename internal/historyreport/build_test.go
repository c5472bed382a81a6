package historyreport

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

func pct(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}

func points(ps []Point) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d:%s", p.RunID, pct(p.Compliance)))
	}
	return out
}

func TestResolvedFindingsCarryTheirTimeOpenAndEachRuleItsMedian(t *testing.T) {
	t.Parallel()
	r := fixture(Options{})
	var got []string
	for _, x := range r.Resolutions {
		got = append(got, fmt.Sprintf("run %d %s %s %s open %s since run %d", x.ResolvedRun, x.Environment, x.RuleID, x.Status,
			time.Duration(x.OpenSeconds)*time.Second, x.FirstSeenRun))
	}
	assert.Equal(t, []string{
		"run 2 Contoso Production W365.B pass open 6h0m0s since run 1",
		// Fixed while Finance could not be read: compared with run 2, the last run that read it, and open from
		// run 1, when it was first seen, to run 5, which found it resolved.
		"run 5 Contoso Finance W365.A pass open 24h0m0s since run 1",
	}, got)
	assert.Equal(t, runAt(5).Add(time.Minute), r.Resolutions[1].ResolvedAt)
	assert.Equal(t, runAt(1).Add(time.Minute), r.Resolutions[1].FirstSeen)

	require.Len(t, r.TimeToResolve, 2)
	assert.Equal(t, RuleTime{RuleID: "W365.A", Title: "Rule A holds", Severity: "critical", Resolved: 1, MedianSeconds: 86400, LongestSeconds: 86400}, r.TimeToResolve[0])
	assert.Equal(t, RuleTime{RuleID: "W365.B", Title: "Rule B holds", Severity: "high", Resolved: 1, MedianSeconds: 21600, LongestSeconds: 21600}, r.TimeToResolve[1])
	require.NotNil(t, r.Summary.MedianSecondsToResolve)
	assert.Equal(t, int64(15*3600), *r.Summary.MedianSecondsToResolve, "the median of 6h and 24h")
}

func TestMedianOfAnOddCountIsTheMiddleAndOfAnEvenCountTheMeanOfTheMiddleTwo(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   []int64
		want int64
	}{
		"none":      {nil, 0},
		"one":       {[]int64{7}, 7},
		"odd":       {[]int64{50, 10, 30}, 30},
		"even":      {[]int64{40, 10, 30, 20}, 25},
		"even odd":  {[]int64{1, 2}, 1},
		"repeated":  {[]int64{5, 5, 5, 100}, 5},
		"unordered": {[]int64{9, 1, 8, 2, 7}, 7},
	} {
		t.Run(name, func(t *testing.T) {
			in := append([]int64(nil), tc.in...)
			assert.Equal(t, tc.want, median(tc.in))
			assert.Equal(t, in, tc.in, "the input is left as it was")
		})
	}
}

func TestTheDriftTimelineComparesWhatAnOutageCouldNotReadWithTheLastRunThatDid(t *testing.T) {
	t.Parallel()
	r := fixture(Options{})
	lines := map[int64][]string{}
	for _, e := range r.Timeline {
		for _, x := range e.NewFailures {
			lines[e.RunID] = append(lines[e.RunID], fmt.Sprintf("new %s %s (run %d)", x.Environment, x.RuleID, x.ComparedWithRun))
		}
		for _, x := range e.Resolved {
			lines[e.RunID] = append(lines[e.RunID], fmt.Sprintf("resolved %s %s (run %d)", x.Environment, x.RuleID, x.ComparedWithRun))
		}
		for _, c := range e.Inventory {
			lines[e.RunID] = append(lines[e.RunID], fmt.Sprintf("%s %s %s%s", c.Kind, c.Environment, c.Before, c.After))
		}
		assert.Equal(t, e.RunID-1-map[bool]int64{true: 1}[e.RunID == 4], e.BaselineRun, "run %d is compared with the previous complete run of its scope", e.RunID)
	}
	assert.Equal(t, map[int64][]string{
		2: {"new " + labName + " W365.A (run 0)", "resolved Contoso Production W365.B (run 0)"},
		// The outage: nothing of Finance or of fabrikam is resolved, new or removed.
		4: {"new Contoso Production W365.C (run 0)"},
		// After it: Finance's fix is resolved against run 2; the lab's failure persists and is not new again.
		5: {"resolved Contoso Finance W365.A (run 2)", "role_removed Contoso Production Basic User"},
	}, lines)
	assert.Equal(t, 2, r.Summary.NewFailures)
	assert.Equal(t, 2, r.Summary.Resolved)
	assert.Equal(t, 1, r.Summary.Inventory)
}

func TestTheLongestOpenFindingsAreThoseFailingAtTheirLastReadingOldestFirst(t *testing.T) {
	t.Parallel()
	r := fixture(Options{})
	var got []string
	for _, o := range r.Open {
		got = append(got, fmt.Sprintf("%s %s since run %d, read in run %d, %s", o.Environment, o.RuleID, o.FirstSeenRun, o.LastReadRun,
			time.Duration(o.AgeSeconds)*time.Second))
	}
	assert.Equal(t, []string{
		// Read failing by both scopes: first seen as the scope that saw it longest says, through the outage.
		"Contoso Finance W365.B since run 1, read in run 6, 29h59m0s",
		// Not read by run 6's scope: run 5's reading stands.
		labName + " W365.A since run 2, read in run 5, 23h59m0s",
	}, got, "Prod's W365.C passes at its newest reading (run 6), whatever run 5 of another scope said")
	assert.Equal(t, 2, r.Summary.Open)
}

func TestComplianceIsCountedPerRunTenantEnvironmentAndRule(t *testing.T) {
	t.Parallel()
	r := fixture(Options{})
	require.Len(t, r.Runs, 6)
	assert.Equal(t, "failed", r.Runs[2].Status)
	assert.Nil(t, r.Runs[2].CollectedAt)
	assert.Nil(t, r.Runs[2].Counts)
	// Run 1: 9 pairs, 1 not applicable, 3 failing of 8 evaluated.
	assert.Equal(t, 3, r.Runs[0].Counts[policy.StatusFail])
	assert.Equal(t, "0.625", pct(r.Runs[0].Compliance))
	assert.Equal(t, "0.625", pct(r.Summary.FirstCompliance))
	assert.Equal(t, "0.8333", pct(r.Summary.LastCompliance), "run 6: 5 of the 6 pairs of Contoso comply")
	assert.Equal(t, 5, r.Summary.CompleteRuns)

	require.Len(t, r.Compliance.Tenants, 2)
	assert.Equal(t, "contoso", r.Compliance.Tenants[0].Tenant)
	assert.Equal(t, []string{"1:0.5", "2:0.6667", "4:0.6667", "5:0.6667", "6:0.8333"}, points(r.Compliance.Tenants[0].Points),
		"run 4: Finance is not audited, Prod passes 2 of 3")
	assert.Equal(t, []string{"1:1", "2:0.5", "4:nil", "5:0.5"}, points(r.Compliance.Tenants[1].Points), "run 4 could not list fabrikam")

	var envs []string
	for _, e := range r.Compliance.Environments {
		envs = append(envs, e.Environment+" "+fmt.Sprint(points(e.Points)))
	}
	assert.Equal(t, []string{
		"Contoso Finance [1:0.3333 2:0.3333 4:nil 5:0.6667 6:0.6667]",
		"Contoso Production [1:0.6667 2:1 4:0.6667 5:0.6667 6:1]",
		labName + " [1:1 2:0.5 5:0.5]",
	}, envs)
	assert.Equal(t, 3, r.Compliance.Environments[0].Points[2].Counts[policy.StatusError])
	require.Len(t, r.Compliance.Rules, 3)
	assert.Equal(t, []string{"1:0.6667", "2:0.3333", "4:1", "5:0.6667", "6:1"}, points(r.Compliance.Rules[0].Points),
		"run 4 evaluated W365.A in Production only")
}

func TestFiltersKeepTheTenantsAndEnvironmentsTheyMatch(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		o        Options
		tenants  []string
		envs     int
		open     int
		timeline map[int64]int
	}{
		"tenant":                {Options{Tenants: []string{"CONTOSO"}}, []string{"contoso"}, 2, 1, map[int64]int{2: 1, 4: 1, 5: 2}},
		"environment by name":   {Options{Environments: []string{"Contoso P*"}}, []string{"contoso"}, 1, 0, map[int64]int{2: 1, 4: 1, 5: 1}},
		"environment by ID":     {Options{Environments: []string{lab}}, []string{"fabrikam"}, 1, 1, map[int64]int{2: 1}},
		"hostile name as given": {Options{Environments: []string{labName}}, []string{"fabrikam"}, 1, 1, map[int64]int{2: 1}},
		"nothing":               {Options{Tenants: []string{"northwind"}}, nil, 0, 0, map[int64]int{}},
	} {
		t.Run(name, func(t *testing.T) {
			r := fixture(tc.o)
			var tenants []string
			for _, s := range r.Compliance.Tenants {
				tenants = append(tenants, s.Tenant)
			}
			assert.Equal(t, tc.tenants, tenants)
			assert.Len(t, r.Compliance.Environments, tc.envs)
			assert.Len(t, r.Open, tc.open)
			got := map[int64]int{}
			for _, e := range r.Timeline {
				got[e.RunID] = len(e.NewFailures) + len(e.Resolved) + len(e.Inventory)
			}
			assert.Equal(t, tc.timeline, got)
			assert.Len(t, r.Runs, 6, "the runs of the period are listed whatever the filters")
		})
	}
}

func TestTheWindowIsCountedBackFromTheNewestRun(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90d": now.AddDate(0, 0, -90),
		"2w":  now.AddDate(0, 0, -14),
		"6M":  time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC), // calendar months: 31 September normalises
		"1y":  now.AddDate(-1, 0, 0),
		"all": {},
	} {
		w, err := ParseWindow(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, w.From(now), in)
	}
	assert.Equal(t, "90d", Window{}.String())
	assert.Equal(t, now.AddDate(0, 0, -90), Window{}.From(now), "the zero window is the default")
	for _, bad := range []string{"", "90", "d", "0d", "-3d", "12h", "1.5w", "ninety days"} {
		_, err := ParseWindow(bad)
		assert.Error(t, err, bad)
	}
}

func TestTheSameHistoryGivesTheSameReport(t *testing.T) {
	t.Parallel()
	var out []string
	for range 3 {
		var buf []string
		r := fixture(Options{ToolVersion: "test"})
		for _, f := range formats {
			var b strings.Builder
			require.NoError(t, f.Write(&b, r))
			buf = append(buf, b.String())
		}
		out = append(out, fmt.Sprint(buf))
	}
	assert.Equal(t, out[0], out[1])
	assert.Equal(t, out[0], out[2])
}
