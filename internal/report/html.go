package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
)

func init() {
	register(Format{Name: "html", Ext: "html", New: func(Options) Reporter { return htmlReporter{} }})
}

// The page is report.html.tmpl; each other *.html.tmpl file defines a section of it.
//
//go:embed templates
var templates embed.FS

// htmlReporter writes one self-contained HTML file: styles and the filter script are inline, and a
// Content-Security-Policy admits those two by hash and nothing else, so the file opens offline and loads
// nothing from anywhere. html/template escapes every tenant-supplied string.
type htmlReporter struct{}

var (
	htmlTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		// Statuses reach the template as policy.Status (results) or as the words of counts: either is taken.
		"badge":    func(s any) template.HTML { return badgeHTML(fmt.Sprint(s)) },
		"sevBadge": severityHTML,
		"label":    func(s any) string { return StatusLabel(policy.Status(fmt.Sprint(s))) },
		"title":    title,
		"lower":    strings.ToLower,
		"fixLabel": FixStatusLabel,
		"fixClass": fixClass,
		"age":      Age,
		"mark":     legendMark,
	}).Funcs(inventoryFuncs).ParseFS(templates, "templates/*.html.tmpl"))
	htmlCSS    = mustRead("templates/report.css")
	htmlScript = mustRead("templates/report.js")
	htmlCSP    = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src data:; base-uri 'none'; form-action 'none'",
		HashSource(htmlCSS), HashSource(htmlScript))
)

func mustRead(name string) string {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// envStatuses are the overall statuses of environments, worst first.
var envStatuses = []policy.Status{policy.StatusFail, policy.StatusError, policy.StatusPass, policy.StatusNotApplicable}

// summaryTables are the summary's two tables: environments by overall status, and results by severity and status.
func summaryTables(r *Report) ([]statusCount, []severityRow) {
	var envs []statusCount
	for _, s := range envStatuses {
		envs = append(envs, statusCount{Status: string(s), N: r.Summary.Environments[s]})
	}
	var rows []severityRow
	for _, sev := range policy.Severities {
		row := severityRow{Severity: sev}
		for _, s := range Statuses {
			n := r.Summary.BySeverity[sev][s]
			row.Cells = append(row.Cells, statusCount{Status: string(s), Severity: sev, N: n})
			row.Total += n
		}
		rows = append(rows, row)
	}
	return envs, rows
}

// HashSource is the Content-Security-Policy source that admits an inline style or script by its SHA-256.
func HashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// badgeHTML renders a status as an icon and a word: status never rests on colour alone. The style sheet
// draws the icon of the status's class.
func badgeHTML(status string) template.HTML {
	return template.HTML(fmt.Sprintf(`<span class="badge s-%s">%s</span>`,
		template.HTMLEscapeString(status), template.HTMLEscapeString(StatusLabel(policy.Status(status)))))
}

func severityHTML(sev string) template.HTML {
	return template.HTML(fmt.Sprintf(`<span class="sev sev-%s">%s</span>`, template.HTMLEscapeString(sev), template.HTMLEscapeString(sev)))
}

type htmlView struct {
	R             *Report
	CSS           template.CSS
	Script        template.JS
	CSP           string
	TenantNames   string
	MultiTenant   bool
	ScanTime      string
	ScanDate      string
	GeneratedTime string
	ShortDigest   string
	CustomSources string
	Verdict       verdict
	Statuses      []policy.Status
	EnvStatus     []statusCount
	StatusTotals  []statusCount
	SeverityRows  []severityRow
	TenantErrors  []Tenant
	Envs          []htmlEnv
	FixCounts     []statusCount
	Heatmap       heatmap
	Trends        *trendView
}

type verdict struct{ Class, Icon, Title, Text string }

type statusCount struct {
	Status   string
	Severity string
	N        int
}

type severityRow struct {
	Severity string
	Cells    []statusCount
	Total    int
}

type htmlEnv struct {
	Environment
	Key     string // value of the environment filter
	Anchor  string
	Callout string // the one message all its error (or not applicable) results share
	Counts  []statusCount
	// Results are those with something to read (a message, a waiver, a remedy), in display order; Brief are
	// the others, by status, each shown as its rule ID: a fleet's thousands of passing results stay small.
	Results []htmlResult
	Brief   []briefGroup
}

// briefGroup is the results of one status that have nothing to read but their rule.
type briefGroup struct {
	Status  policy.Status
	Results []htmlResult
}

type htmlResult struct {
	policy.Result
	ID        string // the anchor of the result: its environment's, then its rule ID
	Inline    string // shown on the result's line when there is nothing to expand
	Open      bool
	Summary   string
	Automatic bool
	OptIn     string
	Actions   []Action
	Evidence  string
	Guide     string
	Related   []policy.Resource
}

// HasBody says whether the result has details worth expanding.
func (h htmlResult) HasBody() bool {
	return h.Inline == "" && (h.Message != "" || h.Waiver != nil || len(h.Actions) > 0 || h.Evidence != "")
}

// Write writes the report; a fleet's (IsFleet) is its summary, without the tenants' pages, which only
// WriteFiles writes.
func (h htmlReporter) Write(w io.Writer, r *Report) error {
	if IsFleet(r) {
		return writeFleet(w, r, false)
	}
	return h.write(w, r)
}

func (htmlReporter) write(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, newHTMLView(r)); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 January 2006, 15:04 UTC")
}

func newHTMLView(r *Report) htmlView {
	v := htmlView{
		R: r, CSS: template.CSS(htmlCSS), Script: template.JS(htmlScript), CSP: htmlCSP,
		TenantNames: tenantNames(r), MultiTenant: len(r.Tenants) > 1,
		ScanTime: formatTime(r.CollectedAt), ScanDate: r.CollectedAt.UTC().Format(time.DateOnly),
		GeneratedTime: formatTime(r.GeneratedAt), ShortDigest: shortDigest(r.Policy.Digest), Statuses: Statuses,
		Verdict: verdictOf(r),
	}
	var custom []string
	for _, s := range r.Policy.Sources {
		if s != "embedded" {
			custom = append(custom, s)
		}
	}
	v.CustomSources = strings.Join(custom, ", ")
	v.EnvStatus, v.SeverityRows = summaryTables(r)
	for _, s := range Statuses {
		v.StatusTotals = append(v.StatusTotals, statusCount{Status: string(s), N: r.Summary.Results[s]})
	}
	v.TenantErrors = tenantErrors(r)
	if r.Fix != nil {
		v.FixCounts = fixCounts(r.Fix)
	}
	byEnv := r.resultsByEnvironment()
	for i, e := range r.Environments {
		he := htmlEnv{Environment: e, Key: fmt.Sprint(i + 1), Anchor: fmt.Sprintf("env-%d", i+1)}
		for _, s := range Statuses {
			if n := e.Counts[s]; n > 0 {
				he.Counts = append(he.Counts, statusCount{Status: string(s), N: n})
			}
		}
		results := byEnv[e.ID]
		shared := sharedMessage(results, e.Status)
		switch {
		case e.Status == policy.StatusError && shared != "":
			he.Callout = "Could not be audited: " + shared
		case e.Status == policy.StatusError && e.Error != "":
			he.Callout = "Could not be audited: " + e.Error
		case e.Status == policy.StatusNotApplicable && shared != "":
			he.Callout = "Not applicable: " + shared
		}
		for _, res := range results {
			h := htmlResultOf(r, res, shared)
			h.ID = he.Anchor + "-" + res.RuleID
			if h.Inline != "" || h.HasBody() {
				he.Results = append(he.Results, h)
				continue
			}
			if n := len(he.Brief); n == 0 || he.Brief[n-1].Status != res.Status {
				he.Brief = append(he.Brief, briefGroup{Status: res.Status})
			}
			g := &he.Brief[len(he.Brief)-1]
			g.Results = append(g.Results, h)
		}
		v.Envs = append(v.Envs, he)
	}
	v.Heatmap = newHeatmap(r, v.Envs)
	v.Trends = newTrendView(r, v.Envs)
	return v
}

// sharedMessage is the message every result of the environment's own status carries, when they all carry the
// same one (an environment that could not be read, or where Work 365 is not installed): said once, not 15 times.
func sharedMessage(results []policy.Result, status policy.Status) string {
	if status != policy.StatusError && status != policy.StatusNotApplicable {
		return ""
	}
	msg := ""
	for _, res := range results {
		if res.Status != status {
			continue
		}
		if msg == "" {
			msg = res.Message
		} else if res.Message != msg {
			return ""
		}
	}
	return msg
}

func htmlResultOf(r *Report, res policy.Result, shared string) htmlResult {
	h := htmlResult{Result: res}
	switch res.Status {
	case policy.StatusNotApplicable, policy.StatusError:
		if res.Message != shared {
			h.Inline = res.Message
		}
		if h.Inline == "" {
			h.Message = "" // said once for the environment
		}
		return h
	case policy.StatusPass:
		return h
	}
	h.Open = res.Status == policy.StatusFail
	if rem := res.Remediation; rem != nil {
		h.Summary, h.Automatic, h.OptIn = rem.Summary, rem.Automatic, rem.OptIn
		h.Actions = Actions(res)
	}
	if len(res.Evidence) > 0 {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // html/template escapes; the JSON shows the names as they are
		if enc.Encode(res.Evidence) == nil {
			h.Evidence = strings.TrimSuffix(b.String(), "\n")
		}
	}
	if rule, ok := r.Rule(res.RuleID); ok {
		h.Guide, h.Related = rule.Guide, rule.Related
		if h.Summary == "" {
			h.Summary = rule.Remediation
		}
	}
	return h
}

func shortDigest(d string) string {
	hex := strings.TrimPrefix(d, "sha256:")
	if len(hex) > 12 {
		return "sha256:" + hex[:12] + "…"
	}
	return d
}

func verdictOf(r *Report) verdict {
	s := r.Summary
	failing := s.Results[policy.StatusFail]
	switch {
	case s.Errors > 0:
		var parts []string
		if n := s.Errors - len(tenantErrors(r)); n > 0 {
			parts = append(parts, plural(n, "environment", "environments")+" could not be read completely")
		}
		if n := len(tenantErrors(r)); n > 0 {
			parts = append(parts, plural(n, "tenant", "tenants")+" could not list "+map[bool]string{true: "its", false: "their"}[n == 1]+" environments")
		}
		text := strings.Join(parts, " and ") + ": what was not read is reported as error, never as pass."
		if s.FailingAtOrAbove > 0 {
			text += fmt.Sprintf(" Besides, %s at or above %s (failing in all: %s).", plural(s.FailingAtOrAbove, "result fails", "results fail"), r.FailOn, failingBySeverity(r))
		}
		return verdict{Class: "error", Icon: "error", Title: "Not everything could be audited", Text: text + " A scan with these results exits with code 4."}
	case s.FailingAtOrAbove > 0:
		return verdict{Class: "fail", Icon: "fail", Title: fmt.Sprintf("%s at or above %s", plural(s.FailingAtOrAbove, "result fails", "results fail"), r.FailOn),
			Text: fmt.Sprintf("Failing in all: %s. A scan with these results exits with code 3.", failingBySeverity(r))}
	case failing > 0:
		return verdict{Class: "pass", Icon: "pass", Title: fmt.Sprintf("Nothing fails at or above %s", r.FailOn),
			Text: fmt.Sprintf("%s below the threshold: %s.", plural(failing, "result fails", "results fail"), failingBySeverity(r))}
	}
	return verdict{Class: "pass", Icon: "pass", Title: "Every environment meets the guide", Text: "No rule fails in any environment."}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func tenantErrors(r *Report) []Tenant {
	var out []Tenant
	for _, t := range r.Tenants {
		if t.Error != "" {
			out = append(out, t)
		}
	}
	return out
}

// fixStatuses are the outcomes of a fix step, in the order reports list them.
var fixStatuses = []string{"applied", "already_compliant", "manual", "held_back", "not_applied", "failed"}

// FixStatusLabel is the human name of a fix step's outcome.
func FixStatusLabel(s string) string {
	switch s {
	case "already_compliant":
		return "Already compliant"
	case "held_back":
		return "Held back"
	case "not_applied":
		return "Not applied"
	}
	return title(strings.ReplaceAll(s, "_", " "))
}

func fixClass(s string) string {
	switch s {
	case "applied", "already_compliant":
		return "chip-auto"
	case "failed":
		return "chip-bad"
	case "held_back", "not_applied":
		return "chip-warn"
	}
	return ""
}

// fixCounts lists the outcomes of a fix run by status, known statuses first, then any other by name.
func fixCounts(f *Fix) []statusCount {
	var out []statusCount
	seen := map[string]bool{}
	for _, s := range fixStatuses {
		seen[s] = true
		if n := f.Counts[s]; n > 0 {
			out = append(out, statusCount{Status: s, N: n})
		}
	}
	var other []string
	for s := range f.Counts {
		if !seen[s] && f.Counts[s] > 0 {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	for _, s := range other {
		out = append(out, statusCount{Status: s, N: f.Counts[s]})
	}
	return out
}
