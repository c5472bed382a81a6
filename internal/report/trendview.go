package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
)

// trendView is the trends section of the HTML report: a chart of the failing results by severity over the
// runs, a sparkline per rule, and one per environment that failed in those runs with its failing-since date.
// The charts are SVG drawn here, inline, with classes for the style sheet and no style attributes (the
// report's CSP admits no inline style). Each is an image whose title says its numbers, and the numbers are
// also in the tables around them: nothing rests on the drawing, nor on colour (each severity's line has its
// own dash and marker shape).
type trendView struct {
	Runs       int
	From, To   string
	Chart      template.HTML
	Severities []string
	Table      []trendRunRow // the chart's numbers, a row per run
	Rules      []trendRow
	Envs       []trendRow
	Quiet      int  // environments without a failing result in any of the runs
	FleetWide  bool // the chart and the rules count every tenant of the fleet (a tenant's page)
}

type trendRunRow struct {
	RunID int64
	At    time.Time
	Date  string
	Cells []int // by severity, in the order of Severities
	Total int
}

// trendRow is a rule's or an environment's line of the trends: its sparkline, and its first and last values
// as text ("not read" where a run has none).
type trendRow struct {
	Key, Name, Tenant, Anchor, Severity string
	Spark                               template.HTML
	First, Now                          string
	Since                               *time.Time
}

func newTrendView(r *Report, envs []htmlEnv) *trendView {
	t := r.Trends
	if t == nil || len(t.Runs) == 0 {
		return nil
	}
	n := len(t.Runs)
	v := &trendView{Runs: n, From: formatTime(t.Runs[0].CollectedAt), To: formatTime(t.Runs[n-1].CollectedAt), Severities: policy.Severities,
		FleetWide: t.FleetWide}
	series := make([][]*int, len(policy.Severities))
	for i, run := range t.Runs {
		row := trendRunRow{RunID: run.RunID, At: run.CollectedAt, Date: run.CollectedAt.UTC().Format("2 Jan 2006 15:04")}
		for s, sev := range policy.Severities {
			c := run.Failing[sev]
			row.Cells = append(row.Cells, c)
			row.Total += c
			if i == 0 {
				series[s] = make([]*int, n)
			}
			series[s][i] = &c
		}
		v.Table = append(v.Table, row)
	}
	v.Chart = severityChart(series, v)
	for _, rt := range t.Rules {
		row := trendRow{Key: rt.RuleID, Name: "No longer in the catalog", First: valueText(rt.Failing[0], notEvaluated), Now: valueText(rt.Failing[n-1], notEvaluated)}
		if rule, ok := r.Rule(rt.RuleID); ok {
			row.Name, row.Severity = rule.Title, rule.Severity
		}
		row.Spark = sparkline(rt.RuleID, rt.Failing, notEvaluated)
		v.Rules = append(v.Rules, row)
	}
	anchors := make(map[string]string, len(envs))
	for _, e := range envs {
		anchors[e.ID] = e.Anchor
	}
	for _, et := range t.Environments {
		if !anyFailing(et.Failing) && et.FailingSince == nil {
			v.Quiet++
			continue
		}
		v.Envs = append(v.Envs, trendRow{Key: et.EnvironmentID, Name: et.Environment, Tenant: et.Tenant, Anchor: anchors[et.EnvironmentID],
			Spark: sparkline(et.Environment, et.Failing, notRead), First: valueText(et.Failing[0], notRead), Now: valueText(et.Failing[n-1], notRead),
			Since: et.FailingSince})
	}
	return v
}

func anyFailing(s []*int) bool {
	for _, v := range s {
		if v != nil && *v > 0 {
			return true
		}
	}
	return false
}

// valueText is a value of a series as text; a run without one is said with missing: "not read" for an
// environment, "not evaluated" for a rule.
func valueText(v *int, missing string) string {
	if v == nil {
		return missing
	}
	return strconv.Itoa(*v)
}

// seriesText is a series as words: "0, 1, not read, 2".
func seriesText(s []*int, missing string) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = valueText(v, missing)
	}
	return strings.Join(parts, ", ")
}

const (
	notRead      = "not read"
	notEvaluated = "not evaluated"
)

// num writes a coordinate with at most one decimal: the same numbers give the same bytes.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

// niceMax is the top of a chart's scale: the smallest of 1, 2 or 5 times a power of ten, times four (the
// gridlines), at or above max.
func niceMax(max int) (top, step int) {
	if max < 4 {
		return 4, 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := m * p; 4*s >= max {
				return 4 * s, s
			}
		}
	}
}

// The severity chart's geometry, in SVG user units (the style sheet lets it shrink to fit).
const (
	chartW, chartH                     = 720, 240
	padLeft, padRight, padTop, padBott = 44, 16, 12, 36
)

// markerPath draws a severity's marker at (x, y): a circle, a square, a triangle or a diamond, so that the
// lines differ by shape as well as by colour and dash.
func markerPath(sev string, x, y float64) string {
	switch sev {
	case "critical":
		return "M" + num(x-3.5) + " " + num(y) + "a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0z"
	case "high":
		return "M" + num(x-3) + " " + num(y-3) + "h6v6h-6z"
	case "medium":
		return "M" + num(x) + " " + num(y-4) + "l4 7h-8z"
	}
	return "M" + num(x) + " " + num(y-4) + "l4 4-4 4-4-4z"
}

// xAt is the horizontal position of run i of n: evenly spaced, the runs being what the chart counts.
func xAt(i, n int, left, width float64) float64 {
	if n == 1 {
		return left + width/2
	}
	return left + width*float64(i)/float64(n-1)
}

// linePath draws a series as a path, broken where a value is missing; a value alone between gaps is a dot
// (a zero-length segment, which the style sheet's round caps draw).
func linePath(s []*int, x func(int) float64, y func(int) float64) string {
	var b strings.Builder
	pen := false
	for i, v := range s {
		if v == nil {
			pen = false
			continue
		}
		if pen {
			b.WriteString("L" + num(x(i)) + " " + num(y(*v)))
		} else {
			b.WriteString("M" + num(x(i)) + " " + num(y(*v)))
			if i == len(s)-1 || s[i+1] == nil {
				b.WriteString("h0")
			}
		}
		pen = true
	}
	return b.String()
}

func severityChart(series [][]*int, v *trendView) template.HTML {
	n := len(v.Table)
	most := 0
	for _, row := range v.Table {
		for _, c := range row.Cells {
			most = max(most, c)
		}
	}
	top, step := niceMax(most)
	w, h := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBott)
	x := func(i int) float64 { return xAt(i, n, padLeft, w) }
	y := func(c int) float64 { return padTop + h - h*float64(c)/float64(top) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="trend-chart-title"><title id="trend-chart-title">`,
		chartW, chartH, chartW, chartH)
	var words []string
	for s, sev := range v.Severities {
		words = append(words, sev+" "+seriesText(series[s], ""))
	}
	b.WriteString(template.HTMLEscapeString(fmt.Sprintf("Failing results by severity in each of the last %d runs, oldest first: %s.", n, strings.Join(words, "; "))))
	b.WriteString(`</title><g class="axis">`)
	for c := 0; c <= top; c += step {
		fmt.Fprintf(&b, `<path d="M%d %sH%d"/><text x="%d" y="%s">%d</text>`, padLeft, num(y(c)), chartW-padRight, padLeft-8, num(y(c)+4), c)
	}
	// The first, the middle and the last run are labelled with their dates; every run has a tick.
	for i := range n {
		fmt.Fprintf(&b, `<path d="M%s %dv5"/>`, num(x(i)), chartH-padBott)
	}
	labels := map[int]string{0: "start", n - 1: "end"}
	if n >= 5 {
		labels[(n-1)/2] = "middle"
	}
	for i := range n {
		if anchor, ok := labels[i]; ok {
			fmt.Fprintf(&b, `<text class="%s" x="%s" y="%d">%s</text>`, anchor, num(x(i)), chartH-padBott+20,
				template.HTMLEscapeString(v.Table[i].At.UTC().Format("2 Jan 15:04")))
		}
	}
	b.WriteString(`</g>`)
	for s, sev := range v.Severities {
		var m strings.Builder
		for i, c := range series[s] {
			if c != nil {
				m.WriteString(markerPath(sev, x(i), y(*c)))
			}
		}
		fmt.Fprintf(&b, `<g class="series tl-%s" data-severity="%s"><path class="line" d="%s"/><path class="marker" d="%s"/></g>`,
			sev, sev, linePath(series[s], x, y), m.String())
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// legendMark is a severity's line and marker, as the legend shows them.
func legendMark(sev string) template.HTML {
	return template.HTML(`<svg class="mark tl-` + sev + `" viewBox="0 0 28 12" width="28" height="12" aria-hidden="true"><path class="line" d="M1 6H27"/><path class="marker" d="` +
		markerPath(sev, 14, 6) + `"/></svg>`)
}

// Sparklines are small: a line over the runs, scaled to the series' own largest value, its last value a dot.
const sparkW, sparkH = 120, 24

// sparkline draws a series for a row of the trends; its title says the numbers.
func sparkline(name string, s []*int, missing string) template.HTML {
	most := 0
	for _, v := range s {
		if v != nil {
			most = max(most, *v)
		}
	}
	top := float64(max(most, 1))
	x := func(i int) float64 { return xAt(i, len(s), 3, sparkW-6) }
	y := func(c int) float64 { return sparkH - 3 - (sparkH-6)*float64(c)/top }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %d %d" width="%d" height="%d" role="img"><title>`, sparkW, sparkH, sparkW, sparkH)
	b.WriteString(template.HTMLEscapeString(fmt.Sprintf("%s, failing results per run, oldest first: %s", name, seriesText(s, missing))))
	b.WriteString(`</title><path class="base" d="M3 ` + num(y(0)) + `H` + num(sparkW-3) + `"/><path class="line" d="` + linePath(s, x, y) + `"/>`)
	if last := s[len(s)-1]; last != nil {
		fmt.Fprintf(&b, `<circle class="last" cx="%s" cy="%s" r="2.5"/>`, num(x(len(s)-1)), num(y(*last)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
