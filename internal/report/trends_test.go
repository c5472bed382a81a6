package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
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

// The HTML report draws the trends as inline SVG, each chart titled with its numbers and beside a table of
// them: a line per severity (each with its own marker shape, not only its colour), a sparkline per rule and
// one per environment that failed in the runs, with its failing-since date; a missing value is a gap. The
// drawing is deterministic and has no style attribute (the CSP admits none). Without trends there is no section.
func TestTheHTMLReportDrawsTheTrends(t *testing.T) {
	t.Parallel()
	out := render(t, "html", trendsFixture(), Options{})
	start, end := strings.Index(out, `<section class="trends"`), strings.Index(out, `<section class="summary"`)
	require.True(t, start > 0 && end > start, "the trends come before the summary")
	sec := out[start:end]
	assert.Less(t, strings.Index(out, `id="heatmap"`), start, "after the heatmap")
	assert.NotContains(t, sec, "style=")
	assert.Equal(t, out, render(t, "html", trendsFixture(), Options{}), "the same report twice")

	assert.Contains(t, sec, `<title id="trend-chart-title">Failing results by severity in each of the last 3 runs, oldest first: critical 1, 1, 1; high 0, 0, 0; medium 0, 1, 2; low 1, 0, 0.</title>`)
	for sev, marker := range map[string]string{"critical": "a3.5 3.5 0 1 0 7 0a", "high": "h6v6h-6z", "medium": "l4 7h-8z", "low": "l4 4-4 4-4-4z"} {
		series := regexp.MustCompile(`<g class="series tl-` + sev + `" data-severity="` + sev + `"><path class="line" d="([^"]+)"/><path class="marker" d="([^"]+)"/></g>`).FindStringSubmatch(sec)
		require.NotNil(t, series, sev)
		assert.Equal(t, 3, strings.Count(series[1], "L")+1, sev+": a line through the three runs")
		assert.Equal(t, 3, strings.Count(series[2], marker), sev+": a marker of its own per run")
	}
	assert.Equal(t, 3, strings.Count(sec, `<tr data-run="`))
	assert.Contains(t, sec, `<tr data-run="6"><th scope="row">6</th><td><time datetime="2026-11-26T12:00:00Z">26 Nov 2026 12:00</time></td><td class="n">1</td><td class="n">0</td><td class="n">2</td><td class="n">0</td><td class="n">3</td></tr>`)

	rules := regexp.MustCompile(`<tr data-rule="([^"]+)">.*?<svg class="spark"[^>]*><title>([^<]*)</title>.*?<path class="line" d="([^"]*)"/>.*?<td class="n">([^<]*)</td><td class="n">([^<]*)</td></tr>`).FindAllStringSubmatch(sec, -1)
	require.Len(t, rules, 4)
	assert.Equal(t, []string{"W365.ROLES.3", "W365.ROLES.3, failing results per run, oldest first: not evaluated, 0, 1", "M60 21L117 3", "not evaluated", "1"}, rules[2][1:],
		"the line starts at the first run that evaluated the rule")
	assert.Equal(t, []string{"W365.OLD.1", "W365.OLD.1, failing results per run, oldest first: 1, not evaluated, not evaluated", "M3 3h0", "1", "not evaluated"}, rules[3][1:],
		"a value alone is a dot")
	assert.Contains(t, rules[3][0], "No longer in the catalog")

	envs := regexp.MustCompile(`<tr data-env-id="([^"]+)"><th scope="row"><a href="#(env-\d+)">([^<]*)</a></th><td>contoso</td><td>(.*?)</td><td><svg class="spark"[^>]*><title>([^<]*)</title>`).FindAllStringSubmatch(sec, -1)
	require.Len(t, envs, 1, "only the environment that failed in these runs")
	assert.Equal(t, []string{"11111111-1111-1111-1111-111111111111", "env-1", "&lt;script&gt;alert(1)&lt;/script&gt;",
		`<time datetime="2026-11-06T12:00:00Z">6 Nov 2026</time> <span class="muted">(20 days)</span>`,
		"&lt;script&gt;alert(1)&lt;/script&gt;, failing results per run, oldest first: 2, 2, 3"}, envs[0][1:])
	assert.Contains(t, sec, `The other 3 environments had no failing result in any of these runs.`)

	assert.NotContains(t, render(t, "html", fixture(), Options{}), `id="trends"`)
}

// fleetTrends gives the report of a large fleet the trends of a full window: TrendRuns runs, in which each
// environment that fails now failed in some of the earlier runs too.
func fleetTrends(r *Report) {
	var past []PastRun
	for run := range TrendRuns - 1 {
		p := PastRun{RunID: int64(run + 1), CollectedAt: r.CollectedAt.Add(time.Duration(run-TrendRuns+1) * 24 * time.Hour),
			BySeverity: map[string]int{}, ByRule: map[string]int{}, ByEnvironment: map[string]*int{}}
		for _, rule := range r.Rules {
			p.ByRule[rule.ID] = run % 4
		}
		for i, e := range r.Environments {
			if e.Counts[policy.StatusFail] > 0 {
				n := (i + run) % 3
				p.ByEnvironment[strings.ToLower(e.ID)] = &n
				p.BySeverity["high"] += n
			}
		}
		past = append(past, p)
	}
	seen := map[[2]string]time.Time{}
	for _, res := range r.Results {
		if res.Status == policy.StatusFail {
			seen[[2]string{strings.ToLower(res.EnvironmentID), res.RuleID}] = r.CollectedAt.Add(-40 * 24 * time.Hour)
		}
	}
	r.Trends = NewTrends(past, CurrentRun(r, TrendRuns), r, seen)
}

// With the trends of thirty runs, the HTML report of a thousand environments still stays under 5 MB, and
// has a sparkline per rule and per environment that failed.
func TestTheHTMLReportOfAThousandEnvironmentsWithTrendsStaysUnderFiveMegabytes(t *testing.T) {
	t.Parallel()
	r := fleet(1000)
	fleetTrends(r)
	var buf bytes.Buffer
	require.NoError(t, htmlReporter{}.Write(&buf, r))
	t.Logf("HTML report of %d environments × %d rules with %d runs of trends: %d bytes", len(r.Environments), len(r.Rules), len(r.Trends.Runs), buf.Len())
	assert.Less(t, buf.Len(), 5_000_000, "5 MB")
	failing := 0
	for _, e := range r.Environments {
		if e.Counts[policy.StatusFail] > 0 {
			failing++
		}
	}
	require.Positive(t, failing)
	assert.Equal(t, len(r.Rules)+failing, strings.Count(buf.String(), `<svg class="spark"`))
}

// A tenant's page of a fleet report has the trends of its own environments; its chart and rules, which count
// the whole fleet, say so.
func TestATenantsPageOfAFleetHasTheTrendsOfItsEnvironments(t *testing.T) {
	t.Parallel()
	r := largeReport(30, 3)
	r.Trends = NewTrends([]PastRun{{RunID: 1, CollectedAt: r.CollectedAt.Add(-time.Hour)}}, CurrentRun(r, 2), r, nil)
	sub := r.ForTenant("tenant-001")
	require.NotNil(t, sub.Trends)
	require.Len(t, sub.Trends.Environments, 10)
	for _, e := range sub.Trends.Environments {
		assert.Equal(t, "tenant-001", e.Tenant)
	}
	assert.True(t, sub.Trends.FleetWide)
	assert.False(t, r.Trends.FleetWide, "the fleet's report is left as it was")
	assert.Len(t, r.Trends.Environments, 30)
	out := render(t, "html", sub, Options{})
	assert.Contains(t, out, "<figcaption>Failing results by severity, in every tenant of the fleet</figcaption>")
	assert.Contains(t, out, "<caption>By rule, in every tenant of the fleet</caption>")
	assert.NotContains(t, render(t, "html", r, Options{}), "in every tenant of the fleet")
}
