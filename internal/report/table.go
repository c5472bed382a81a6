package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/termtext"
)

func init() {
	register(Format{Name: "table", Ext: "txt", New: func(o Options) Reporter { return tableReporter{opts: o} }})
}

// tableReporter prints, per environment with something to act on, a line with its status and a table of its
// failing results (most severe first); then one line per other environment and a summary. Status is always
// spelled out, so the output reads the same without colour, and it fits 80 columns. Every text a tenant
// or an API supplied (names, messages, reasons, errors) goes through termtext.Clean, so that only the
// reporter's own colour codes reach the terminal.
type tableReporter struct{ opts Options }

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"

	ruleWidth     = 14 // W365.APPUSER.1
	severityWidth = 8  // CRITICAL
	tableOverhead = 10 // three columns: four borders and six padding spaces
	minFinding    = 30
	defaultWidth  = 100
)

func (t tableReporter) paint(color, s string) string {
	if !t.opts.Color || s == "" {
		return s
	}
	return color + s + ansiReset
}

func (t tableReporter) Write(w io.Writer, r *Report) error {
	width := t.opts.Width
	if width <= 0 {
		width = defaultWidth
	}
	byEnv := map[string][]int{}
	for i, res := range r.Results {
		byEnv[res.EnvironmentID] = append(byEnv[res.EnvironmentID], i)
	}
	var quiet []Environment
	for _, e := range r.Environments {
		switch e.Status {
		case policy.StatusError:
			fmt.Fprintf(w, "%s — %s\n  %s\n\n", t.paint(ansiBold, envTitle(e)), t.label(e.Status),
				wrap("could not be audited: "+oneLine(e.Error), width-2, "  "))
		case policy.StatusFail:
			head := fmt.Sprintf("%s — %s (%s)", envTitle(e), strings.ToUpper(string(e.Status)), counts(e))
			if utf8.RuneCountInString(head) > width {
				fmt.Fprintf(w, "%s — %s\n  %s\n", t.paint(ansiBold, envTitle(e)), t.label(e.Status), wrap(counts(e), width-2, "  "))
			} else {
				fmt.Fprintf(w, "%s — %s (%s)\n", t.paint(ansiBold, envTitle(e)), t.label(e.Status), counts(e))
			}
			if err := t.failures(w, r, byEnv[e.ID], width); err != nil {
				return err
			}
			fmt.Fprintln(w)
		default:
			quiet = append(quiet, e)
		}
	}
	for _, tn := range r.Tenants {
		if tn.Error != "" {
			fmt.Fprintf(w, "%s — %s\n  %s\n\n", t.paint(ansiBold, "Tenant "+termtext.Clean(tn.Name)), t.word(policy.StatusError),
				wrap("could not list its environments: "+oneLine(tn.Error), width-2, "  "))
		}
	}
	if len(quiet) > 0 {
		fmt.Fprintln(w, t.paint(ansiBold, "Other environments"))
		for _, e := range quiet {
			fmt.Fprintf(w, "  %s  %s\n", t.word(e.Status), wrap(envTitle(e)+": "+oneLine(detail(e)), width-9, "         "))
		}
		fmt.Fprintln(w)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "%s %s\n", t.paint(ansiYellow, "warning:"), wrap(oneLine(warn), width-9, "         "))
	}
	fmt.Fprintln(w, wrap(summaryLine(r), width, ""))
	return nil
}

// failures renders one environment's failing and waived results as a table.
func (t tableReporter) failures(w io.Writer, r *Report, idx []int, width int) error {
	rows := make([]int, 0, len(idx))
	for _, i := range idx {
		if s := r.Results[i].Status; s == policy.StatusFail || s == policy.StatusWaived {
			rows = append(rows, i)
		}
	}
	sort.SliceStable(rows, func(a, b int) bool {
		ra, rb := r.Results[rows[a]], r.Results[rows[b]]
		if ra.Status != rb.Status {
			return ra.Status == policy.StatusFail
		}
		if sa, sb := policy.SeverityRank(ra.Severity), policy.SeverityRank(rb.Severity); sa != sb {
			return sa > sb
		}
		return ra.RuleID < rb.RuleID
	})
	finding := width - ruleWidth - severityWidth - tableOverhead
	if finding < minFinding {
		finding = minFinding
	}
	widths := tw.NewMapper[int, int]().Set(0, ruleWidth).Set(1, severityWidth).Set(2, finding)
	cell := tw.CellConfig{
		Formatting:   tw.CellFormatting{AutoWrap: tw.WrapNormal},
		Alignment:    tw.CellAlignment{Global: tw.AlignLeft},
		ColMaxWidths: tw.CellWidth{PerColumn: widths},
	}
	tbl := tablewriter.NewTable(w, tablewriter.WithConfig(tablewriter.Config{Header: cell, Row: cell}))
	tbl.Header("Rule", "Severity", "Finding")
	for _, i := range rows {
		res := r.Results[i]
		sev := strings.ToUpper(res.Severity)
		msg := oneLine(res.Message)
		if res.Status == policy.StatusWaived {
			sev = "WAIVED"
			if res.Waiver != nil {
				msg += " " + oneLine(fmt.Sprintf("[waived until %s by %s: %s]", res.Waiver.Expires, res.Waiver.Owner, res.Waiver.Reason))
			}
		}
		if err := tbl.Append([]string{res.RuleID, sev, msg}); err != nil {
			return err
		}
	}
	return tbl.Render()
}

func envTitle(e Environment) string {
	parts := []string{e.Name}
	if e.Type != "" {
		parts = append(parts, e.Type)
	}
	if e.Region != "" {
		parts = append(parts, e.Region)
	}
	return termtext.Clean(strings.Join(parts, " · "))
}

// word is a status as a painted word padded to five columns, so that lists line up with or without colour.
func (t tableReporter) word(s policy.Status) string {
	l := t.label(s)
	return l + strings.Repeat(" ", 5-len(statusWord(s)))
}

// label is a status as a painted word.
func (t tableReporter) label(s policy.Status) string {
	colour := map[policy.Status]string{policy.StatusFail: ansiRed, policy.StatusError: ansiRed + ansiBold, policy.StatusPass: ansiGreen}[s]
	if colour == "" {
		colour = ansiDim
	}
	return t.paint(colour, statusWord(s))
}

func statusWord(s policy.Status) string {
	switch s {
	case policy.StatusFail:
		return "FAIL"
	case policy.StatusError:
		return "ERROR"
	case policy.StatusPass:
		return "PASS"
	}
	return "N/A"
}

func counts(e Environment) string {
	parts := []string{}
	for _, s := range []policy.Status{policy.StatusFail, policy.StatusWaived, policy.StatusPass, policy.StatusNotApplicable} {
		if n := e.Counts[s]; n > 0 {
			label := map[policy.Status]string{policy.StatusFail: "failing", policy.StatusWaived: "waived",
				policy.StatusPass: "passing", policy.StatusNotApplicable: "not applicable"}[s]
			parts = append(parts, fmt.Sprintf("%d %s", n, label))
		}
	}
	return strings.Join(parts, ", ")
}

func detail(e Environment) string {
	if e.Status == policy.StatusNotApplicable {
		if e.SkipReason != "" {
			return e.SkipReason
		}
		return "Work 365 is not installed"
	}
	return counts(e)
}

func summaryLine(r *Report) string {
	s := r.Summary
	parts := []string{}
	for _, st := range []policy.Status{policy.StatusPass, policy.StatusFail, policy.StatusWaived, policy.StatusNotApplicable, policy.StatusError} {
		if n := s.Results[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(string(st), "_", " ")))
		}
	}
	line := fmt.Sprintf("%d environments, %d results: %s.", len(r.Environments), len(r.Results), strings.Join(parts, ", "))
	failing := []string{}
	for _, sev := range policy.Severities {
		if n := s.BySeverity[sev][policy.StatusFail]; n > 0 {
			failing = append(failing, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(failing) > 0 {
		line += " Failing: " + strings.Join(failing, ", ") + "."
	}
	if r.FailOn != "" {
		line += fmt.Sprintf(" At or above %s: %d.", r.FailOn, s.FailingAtOrAbove)
	}
	if s.Errors > 0 {
		line += fmt.Sprintf(" Not audited: %d.", s.Errors)
	}
	return line
}

// oneLine is s cleaned for a terminal, its runs of spaces and line breaks collapsed to one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(termtext.Clean(s)), " ")
}

// wrap breaks s into lines of at most width characters at spaces, indenting continuation lines.
func wrap(s string, width int, indent string) string {
	if width < 20 {
		width = 20
	}
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if line+1+utf8.RuneCountInString(word) > width {
				b.WriteString("\n" + indent)
				line = 0
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(word)
		line += utf8.RuneCountInString(word)
	}
	return b.String()
}
