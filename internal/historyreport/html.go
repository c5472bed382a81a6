package historyreport

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

//go:embed templates/history.html.tmpl templates/history.css
var templates embed.FS

// The HTML report is one self-contained file with no script at all: its style sheet is inline, and a
// Content-Security-Policy admits that style sheet by hash and nothing else, so the file opens offline, on
// SharePoint or in a CI artifact viewer, and loads nothing from anywhere. html/template escapes every
// tenant-supplied string; the charts escape theirs (chart.go).
var (
	htmlTemplate = template.Must(template.New("history.html.tmpl").Funcs(template.FuncMap{
		"percent":  percent,
		"duration": duration,
		"short":    shortTime,
		"long":     longTime,
		"iso":      isoTime,
		"label":    func(s policy.Status) string { return report.StatusLabel(s) },
		"lower":    strings.ToLower,
		"scope":    scopeLabel,
		"change":   changeLabel,
	}).ParseFS(templates, "templates/history.html.tmpl"))
	htmlCSS = mustRead("templates/history.css")
	htmlCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; img-src data:; base-uri 'none'; form-action 'none'", report.HashSource(htmlCSS))
)

func mustRead(name string) string {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type htmlView struct {
	R         *Report
	CSS       template.CSS
	CSP       string
	Tenants   string
	Filter    string
	Headline  string
	RunLine   string
	Cards     []card
	Statuses  []policy.Status
	Overall   template.HTML
	Runs      []htmlRun
	TenantCh  []htmlTenant
	Envs      []htmlSeries
	Rules     []htmlSeries
	Events    []htmlEvent
	Open      []OpenFinding
	OpenTotal int
}

type card struct {
	Key, Label, Value, Note string
}

type htmlRun struct {
	Run
	Cells []int
}

type htmlTenant struct {
	Tenant      string
	Chart       template.HTML
	First, Last string
}

type htmlSeries struct {
	Key, Name, Tenant, Severity, Title string
	Spark                              template.HTML
	First, Last                        string
	Failing, Runs                      int
}

type htmlEvent struct {
	Event
	Rows []htmlChange
}

type htmlChange struct {
	Kind, Label, Tenant, Environment, Rule, What, Detail string
	Compared                                             int64
}

func writeHTML(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, newHTMLView(r)); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func newHTMLView(r *Report) htmlView {
	v := htmlView{R: r, CSS: template.CSS(htmlCSS), CSP: htmlCSP, Tenants: tenantNames(r), Filter: filterText(r.Filters),
		Headline: headline(r), RunLine: runLine(r), Statuses: statuses, Open: openShown(r), OpenTotal: len(r.Open)}
	s := r.Summary
	v.Cards = []card{
		{Key: "compliance", Label: "Compliance at the last run", Value: percent(s.LastCompliance), Note: "at the first run: " + percent(s.FirstCompliance)},
		{Key: "open", Label: "Open findings", Value: fmt.Sprint(s.Open)},
		{Key: "new", Label: "New failures", Value: fmt.Sprint(s.NewFailures)},
		{Key: "resolved", Label: "Resolved", Value: fmt.Sprint(s.Resolved)},
		{Key: "inventory", Label: "Inventory changes", Value: fmt.Sprint(s.Inventory)},
		{Key: "runs", Label: "Runs", Value: fmt.Sprint(s.Runs), Note: fmt.Sprintf("%d complete", s.CompleteRuns)},
	}
	if len(r.Open) > 0 {
		v.Cards[1].Note = "oldest since " + r.Open[0].FirstSeen.UTC().Format("2 Jan 2006")
	}
	if s.MedianSecondsToResolve != nil {
		v.Cards[3].Note = "median " + duration(*s.MedianSecondsToResolve) + " open"
	}

	at := map[int64]time.Time{}
	var from, to time.Time
	var overall []chartPoint
	for _, run := range r.Runs {
		hr := htmlRun{Run: run}
		if run.Complete() {
			t := *run.CollectedAt
			at[run.ID] = t
			if from.IsZero() {
				from = t
			}
			to = t
			for _, st := range statuses {
				hr.Cells = append(hr.Cells, run.Counts[st])
			}
			overall = append(overall, chartPoint{RunID: run.ID, At: t, Value: run.Compliance, Label: pointLabel(run.ID, t, run.Counts, run.Compliance)})
		}
		v.Runs = append(v.Runs, hr)
	}
	points := func(ps []Point) []chartPoint {
		out := make([]chartPoint, 0, len(ps))
		for _, p := range ps {
			out = append(out, chartPoint{RunID: p.RunID, At: at[p.RunID], Value: p.Compliance, Label: pointLabel(p.RunID, at[p.RunID], p.Counts, p.Compliance)})
		}
		return out
	}
	v.Overall = lineChart(bigChart, "overall", "chart-overall", "Compliance over time, all pairs in the report",
		describe("Compliance", overall), overall, from, to)
	for i, t := range r.Compliance.Tenants {
		pts := points(t.Points)
		v.TenantCh = append(v.TenantCh, htmlTenant{Tenant: t.Tenant, First: percent(first(t.Points)), Last: percent(last(t.Points)),
			Chart: lineChart(smallChart, "tenant", fmt.Sprintf("chart-tenant-%d", i+1), "Compliance of tenant "+t.Tenant,
				describe("Compliance of tenant "+t.Tenant, pts), pts, from, to)})
	}
	for _, e := range r.Compliance.Environments {
		pts := points(e.Points)
		v.Envs = append(v.Envs, htmlSeries{Key: strings.ToLower(e.EnvironmentID), Name: e.Environment, Tenant: e.Tenant,
			Spark: sparkline(pts, from, to, describe("Compliance of "+e.Environment, pts)), First: percent(first(e.Points)),
			Last: percent(last(e.Points)), Failing: failing(e.Points), Runs: len(e.Points)})
	}
	for _, s := range r.Compliance.Rules {
		pts := points(s.Points)
		v.Rules = append(v.Rules, htmlSeries{Key: s.RuleID, Name: s.RuleID, Title: s.Title, Severity: s.Severity,
			Spark: sparkline(pts, from, to, describe("Compliance of rule "+s.RuleID, pts)), First: percent(first(s.Points)),
			Last: percent(last(s.Points)), Failing: failing(s.Points), Runs: len(s.Points)})
	}
	for _, e := range r.Timeline {
		he := htmlEvent{Event: e}
		for _, x := range e.NewFailures {
			he.Rows = append(he.Rows, htmlChange{Kind: "new_failure", Label: "New failure", Tenant: x.Tenant, Environment: x.Environment,
				Rule: x.RuleID, What: x.Title, Detail: "fails now", Compared: x.ComparedWithRun})
		}
		for _, x := range e.Resolved {
			he.Rows = append(he.Rows, htmlChange{Kind: "resolved", Label: "Resolved", Tenant: x.Tenant, Environment: x.Environment,
				Rule: x.RuleID, What: x.Title, Compared: x.ComparedWithRun,
				Detail: fmt.Sprintf("%s now, after %s", strings.ToLower(report.StatusLabel(x.Status)), duration(seconds(e.At.Sub(x.FirstSeen))))})
		}
		for _, c := range e.Inventory {
			he.Rows = append(he.Rows, htmlChange{Kind: c.Kind, Label: "Inventory", Tenant: c.Tenant, Environment: c.Environment,
				What: c.Description, Compared: c.ComparedWithRun})
		}
		v.Events = append(v.Events, he)
	}
	return v
}

// pointLabel says what one run found of a series.
func pointLabel(run int64, at time.Time, c report.Counts, v *float64) string {
	ok := c[policy.StatusPass] + c[policy.StatusWaived]
	n := ok + c[policy.StatusFail]
	text := fmt.Sprintf("Run %d, %s: ", run, longTime(at))
	if v == nil {
		text += "nothing evaluated"
	} else {
		text += fmt.Sprintf("%s (%d of %d evaluated pairs comply)", percent(v), ok, n)
	}
	if e := c[policy.StatusError]; e > 0 {
		text += fmt.Sprintf("; %d not audited", e)
	}
	return text
}
