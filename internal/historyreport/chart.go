package historyreport

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// The charts are inline SVG drawn here, with no script: they render offline and under the report's
// Content-Security-Policy, which admits the inline style sheet by hash and nothing else. Colours come from
// the style sheet's classes (presentation attributes are not styles, so the policy allows them). Every chart
// is an image with a title and a description, and the tables beside it hold the same numbers.

// chartPoint is one run on a chart.
type chartPoint struct {
	RunID int64
	At    time.Time
	Value *float64 // the compliant share, 0 to 1; nil: nothing evaluated
	Label string   // what the point says to a person (its tooltip)
}

// chartSize is a chart's size in user units, and its margins.
type chartSize struct {
	W, H                     float64
	Left, Right, Top, Bottom float64
}

var (
	bigChart   = chartSize{W: 720, H: 220, Left: 46, Right: 18, Top: 14, Bottom: 30}
	smallChart = chartSize{W: 340, H: 150, Left: 42, Right: 12, Top: 10, Bottom: 26}
	sparkSize  = chartSize{W: 128, H: 28, Left: 3, Right: 3, Top: 3, Bottom: 3}
)

// xScale places times between from and to; a single time sits in the middle.
func (s chartSize) x(t, from, to time.Time) float64 {
	w := s.W - s.Left - s.Right
	if !to.After(from) {
		return s.Left + w/2
	}
	return s.Left + w*float64(t.Sub(from))/float64(to.Sub(from))
}

func (s chartSize) y(v float64) float64 { return s.Top + (1-v)*(s.H-s.Top-s.Bottom) }

func num(f float64) string {
	out := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
	if out == "-0" {
		return "0"
	}
	return out
}

// linePath joins the points that have a value, breaking the line where a run evaluated nothing.
func linePath(s chartSize, pts []chartPoint, from, to time.Time) string {
	var b strings.Builder
	pen := false
	for _, p := range pts {
		if p.Value == nil {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%s %s ", cmd, num(s.x(p.At, from, to)), num(s.y(*p.Value)))
		pen = true
	}
	return strings.TrimSpace(b.String())
}

// lineChart draws compliance from 0% to 100% over time, with a mark per run: a dot where the run evaluated
// something, a hollow mark on the axis where it did not. kind names the chart (data-chart) and id makes its
// elements' IDs unique in the page.
func lineChart(s chartSize, kind, id, title, desc string, pts []chartPoint, from, to time.Time) template.HTML {
	e := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-chart="%s" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-t %s-d">`, e(kind), num(s.W), num(s.H), id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, e(title), id, e(desc))
	b.WriteString(`<g class="grid">`)
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := num(s.y(v))
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(s.Left), num(s.W-s.Right), y, y)
		if v == 0 || v == 0.5 || v == 1 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%d%%</text>`, num(s.Left-6), y, int(v*100))
		}
	}
	b.WriteString(`</g>`)
	if len(pts) > 0 {
		base := num(s.H - s.Bottom + 18)
		fmt.Fprintf(&b, `<g class="axis"><text x="%s" y="%s" text-anchor="start">%s</text>`, num(s.Left), base, e(pts[0].At.UTC().Format("2 Jan 2006")))
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, num(s.W-s.Right), base, e(pts[len(pts)-1].At.UTC().Format("2 Jan 2006")))
		}
		b.WriteString(`</g>`)
	}
	if d := linePath(s, pts, from, to); d != "" {
		fmt.Fprintf(&b, `<path class="line" d="%s"/>`, d)
	}
	b.WriteString(`<g class="marks">`)
	for _, p := range pts {
		x := num(s.x(p.At, from, to))
		if p.Value == nil {
			fmt.Fprintf(&b, `<rect class="gap" data-run="%d" x="%s" y="%s" width="6" height="6"><title>%s</title></rect>`, p.RunID,
				num(s.x(p.At, from, to)-3), num(s.y(0)-3), e(p.Label))
			continue
		}
		fmt.Fprintf(&b, `<circle class="pt" data-run="%d" cx="%s" cy="%s" r="3.5"><title>%s</title></circle>`, p.RunID, x, num(s.y(*p.Value)), e(p.Label))
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// sparkline draws a series small, for a table row: its line, and a dot on its newest value. label is its
// text alternative.
func sparkline(pts []chartPoint, from, to time.Time, label string) template.HTML {
	s := sparkSize
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s">`, num(s.W), num(s.H), num(s.W), num(s.H),
		template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<line class="base" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(s.Left), num(s.W-s.Right), num(s.y(0)), num(s.y(0)))
	if d := linePath(s, pts, from, to); d != "" {
		fmt.Fprintf(&b, `<path class="line" d="%s"/>`, d)
	}
	for i := len(pts) - 1; i >= 0; i-- {
		if v := pts[i].Value; v != nil {
			fmt.Fprintf(&b, `<circle class="pt" cx="%s" cy="%s" r="2.5"/>`, num(s.x(pts[i].At, from, to)), num(s.y(*v)))
			break
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// describe is a chart's text alternative: where the series started and ended, and its lowest point.
func describe(what string, pts []chartPoint) string {
	var known []chartPoint
	for _, p := range pts {
		if p.Value != nil {
			known = append(known, p)
		}
	}
	if len(known) == 0 {
		return fmt.Sprintf("%s: nothing was evaluated in %s.", what, plural(len(pts), "run", "runs"))
	}
	lo := known[0]
	for _, p := range known {
		if *p.Value < *lo.Value {
			lo = p
		}
	}
	a, z := known[0], known[len(known)-1]
	text := fmt.Sprintf("%s over %s: %s at run %d, %s at run %d", what, plural(len(pts), "run", "runs"), percent(a.Value), a.RunID,
		percent(z.Value), z.RunID)
	if len(known) > 2 {
		text += fmt.Sprintf("; lowest %s at run %d", percent(lo.Value), lo.RunID)
	}
	if n := len(pts) - len(known); n > 0 {
		text += fmt.Sprintf("; %s evaluated nothing", plural(n, "run", "runs"))
	}
	return text + "."
}
