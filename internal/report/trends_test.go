package report

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func intp(n int) *int { return &n }

// trendsFixture is the fixture's report with the trends of two earlier runs: in the first, the hostile
// environment failed W365.APPUSER.1 and a rule since retired, and the broken one could not be read; in the
// second, the hostile environment failed two rules and the sandbox was not there yet.
func trendsFixture() *Report {
	r := fixture()
	day := 24 * time.Hour
	past := []PastRun{
		{RunID: 3, CollectedAt: r.CollectedAt.Add(-14 * day), BySeverity: map[string]int{"critical": 1, "low": 1},
			ByRule:        map[string]int{"W365.APPUSER.1": 1, "W365.BIND.1": 0, "W365.OLD.1": 1},
			ByEnvironment: map[string]*int{"11111111-1111-1111-1111-111111111111": intp(2), "22222222-2222-2222-2222-222222222222": intp(0), "33333333-3333-3333-3333-333333333333": nil}},
		{RunID: 5, CollectedAt: r.CollectedAt.Add(-7 * day), BySeverity: map[string]int{"critical": 1, "medium": 1},
			ByRule:        map[string]int{"W365.APPUSER.1": 1, "W365.BIND.1": 1, "W365.ROLES.3": 0},
			ByEnvironment: map[string]*int{"11111111-1111-1111-1111-111111111111": intp(2), "33333333-3333-3333-3333-333333333333": intp(0)}},
	}
	seen := map[[2]string]time.Time{
		{"11111111-1111-1111-1111-111111111111", "W365.APPUSER.1"}: r.CollectedAt.Add(-20 * day),
		{"11111111-1111-1111-1111-111111111111", "W365.BIND.1"}:    r.CollectedAt.Add(-7 * day),
		{"11111111-1111-1111-1111-111111111111", "W365.ROLES.3"}:   r.CollectedAt,
	}
	r.Trends = NewTrends(past, CurrentRun(r, 6), r, seen)
	return r
}

// Trends have a value per run in every series, the report's run last: failing results by severity, by rule
// (null where a run has no result of the rule; retired rules after the catalog's) and by environment (null
// where a run did not read it or did not have it), and each failing environment's failing-since date, its
// oldest open failure's first sighting.
func TestTrendsHaveAValuePerRunInEverySeries(t *testing.T) {
	t.Parallel()
	r := trendsFixture()
	tr := r.Trends
	require.Len(t, tr.Runs, 3)
	assert.Equal(t, []int64{3, 5, 6}, []int64{tr.Runs[0].RunID, tr.Runs[1].RunID, tr.Runs[2].RunID})
	assert.Equal(t, map[string]int{"critical": 1, "high": 0, "medium": 0, "low": 1}, tr.Runs[0].Failing)
	assert.Equal(t, map[string]int{"critical": 1, "high": 0, "medium": 2, "low": 0}, tr.Runs[2].Failing, "the report's own: 3 failing")
	assert.Equal(t, r.CollectedAt, tr.Runs[2].CollectedAt)

	rules := map[string][]*int{}
	var order []string
	for _, rt := range tr.Rules {
		rules[rt.RuleID] = rt.Failing
		order = append(order, rt.RuleID)
	}
	assert.Equal(t, []string{"W365.APPUSER.1", "W365.BIND.1", "W365.ROLES.3", "W365.OLD.1"}, order)
	assert.Equal(t, []*int{intp(1), intp(1), intp(1)}, rules["W365.APPUSER.1"])
	assert.Equal(t, []*int{nil, intp(0), intp(1)}, rules["W365.ROLES.3"])
	assert.Equal(t, []*int{intp(1), nil, nil}, rules["W365.OLD.1"])

	require.Len(t, tr.Environments, 4)
	evil, sandbox, broken, empty := tr.Environments[0], tr.Environments[1], tr.Environments[2], tr.Environments[3]
	assert.Equal(t, []*int{intp(2), intp(2), intp(3)}, evil.Failing)
	require.NotNil(t, evil.FailingSince)
	assert.Equal(t, r.CollectedAt.Add(-20*24*time.Hour), *evil.FailingSince)
	assert.Equal(t, []*int{intp(0), nil, intp(0)}, sandbox.Failing, "waived is not failing")
	assert.Nil(t, sandbox.FailingSince)
	assert.Equal(t, []*int{nil, intp(0), nil}, broken.Failing, "not read now")
	assert.Equal(t, []*int{nil, nil, intp(0)}, empty.Failing)
	assert.Equal(t, "contoso", evil.Tenant)

	// The JSON report carries them, as its schema says, with nulls where a run has no value.
	out := render(t, "json", r, Options{})
	require.NoError(t, ValidateJSON([]byte(out)))
	var doc struct {
		Trends struct {
			Environments []struct {
				Failing []*int `json:"failing"`
			} `json:"environments"`
		} `json:"trends"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, []*int{nil, intp(0), nil}, doc.Trends.Environments[2].Failing)
}

// Trends cover TrendRuns runs at most: the newest earlier ones and the report's.
func TestTrendsCoverTheLastThirtyRuns(t *testing.T) {
	t.Parallel()
	r := fixture()
	var past []PastRun
	for i := range 40 {
		past = append(past, PastRun{RunID: int64(i + 1), CollectedAt: r.CollectedAt.Add(time.Duration(i-40) * time.Hour),
			ByRule: map[string]int{"W365.APPUSER.1": i}})
	}
	tr := NewTrends(past, CurrentRun(r, 41), r, nil)
	require.Len(t, tr.Runs, TrendRuns)
	assert.Equal(t, int64(12), tr.Runs[0].RunID)
	assert.Equal(t, int64(41), tr.Runs[TrendRuns-1].RunID)
	assert.Equal(t, intp(11), tr.Rules[0].Failing[0])
	for _, rt := range tr.Rules {
		assert.Len(t, rt.Failing, TrendRuns, rt.RuleID)
	}
}
