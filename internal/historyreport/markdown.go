package historyreport

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/termtext"
)

// writeMarkdown writes GitHub-flavoured Markdown for a wiki page or a CI job summary. Trends are drawn with
// block characters, one per run. Tenant-supplied text is escaped as the scan's Markdown report escapes it.
func writeMarkdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Work 365 compliance history: %s\n\n", report.MarkdownText(tenantNames(r)))
	fmt.Fprintf(&b, "%s · runs started from %s to %s (%s) · %s %s\n\n", runLine(r), longTime(r.Period.From),
		longTime(r.Period.To), code("--since "+r.Period.Since), r.Tool.Name, report.MarkdownText(r.Tool.Version))
	if f := filterText(r.Filters); f != "" {
		fmt.Fprintf(&b, "Limited to %s.\n\n", report.MarkdownText(f))
	}
	fmt.Fprintf(&b, "**%s**\n\n", headline(r))

	b.WriteString("## Compliance over time\n\n")
	b.WriteString("Compliance is the share of evaluated pairs (environment × rule) that pass or are waived; not applicable and not audited (error) pairs are left out.\n\n")
	b.WriteString("| Run | Started (UTC) | Scope | Status | Fail | Error | Waived | Pass | Not applicable | Compliance |\n|--:|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |", run.ID, shortTime(run.StartedAt), report.MarkdownCell(scopeLabel(run.Scope)), runStatus(run))
		for _, st := range statuses {
			if run.Complete() {
				fmt.Fprintf(&b, " %d |", run.Counts[st])
			} else {
				b.WriteString(" – |")
			}
		}
		if run.Complete() {
			fmt.Fprintf(&b, " %s |\n", percent(run.Compliance))
		} else {
			b.WriteString(" – |\n")
		}
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "### By tenant\n\n| Tenant | Trend | First | Last |\n|---|---|--:|--:|\n")
	for _, s := range r.Compliance.Tenants {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", report.MarkdownCell(s.Tenant), spark(r, s.Points), percent(first(s.Points)), percent(last(s.Points)))
	}
	fmt.Fprintf(&b, "\n### By environment\n\n| Environment | Tenant | Trend | First | Last | Failing now |\n|---|---|---|--:|--:|--:|\n")
	for _, s := range r.Compliance.Environments {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |\n", report.MarkdownCell(s.Environment), report.MarkdownCell(s.Tenant), spark(r, s.Points),
			percent(first(s.Points)), percent(last(s.Points)), failing(s.Points))
	}
	fmt.Fprintf(&b, "\n### By rule\n\n| Rule | Severity | Title | Trend | First | Last | Failing now |\n|---|---|---|---|--:|--:|--:|\n")
	for _, s := range r.Compliance.Rules {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d |\n", code(s.RuleID), report.MarkdownCell(s.Severity), report.MarkdownCell(s.Title),
			spark(r, s.Points), percent(first(s.Points)), percent(last(s.Points)), failing(s.Points))
	}
	b.WriteString("\nTrend: one character per complete run of the period, from ▁ (0%) to █ (100%); · where the run evaluated nothing of it (not audited, not applicable), – where it did not read it.\n\n")

	b.WriteString("## Drift timeline\n\n")
	if len(r.Timeline) == 0 {
		b.WriteString("Nothing changed between consecutive complete runs of the period.\n\n")
	}
	for _, e := range r.Timeline {
		fmt.Fprintf(&b, "### Run %d · %s\n\nCompared with run %d (%s), the previous complete run of scope %s.\n\n", e.RunID, longTime(e.At),
			e.BaselineRun, longTime(e.BaselineAt), report.MarkdownText(scopeLabel(e.Scope)))
		for _, x := range e.NewFailures {
			fmt.Fprintf(&b, "- ❌ New failure: **%s** (%s) %s %s%s\n", report.MarkdownText(x.Environment), report.MarkdownText(x.Tenant),
				code(x.RuleID), report.MarkdownText(x.Title), comparedWith(x.ComparedWithRun))
		}
		for _, x := range e.Resolved {
			fmt.Fprintf(&b, "- ✅ Resolved: **%s** (%s) %s %s, now %s, open %s%s\n", report.MarkdownText(x.Environment),
				report.MarkdownText(x.Tenant), code(x.RuleID), report.MarkdownText(x.Title), strings.ToLower(report.StatusLabel(x.Status)),
				duration(seconds(e.At.Sub(x.FirstSeen))), comparedWith(x.ComparedWithRun))
		}
		for _, c := range e.Inventory {
			fmt.Fprintf(&b, "- 🔄 Inventory: **%s** (%s): %s%s\n", report.MarkdownText(c.Environment), report.MarkdownText(c.Tenant),
				report.MarkdownText(c.Description), comparedWith(c.ComparedWithRun))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Time to resolve\n\n")
	if len(r.Resolutions) == 0 {
		b.WriteString("No finding was resolved during the period.\n\n")
	} else {
		b.WriteString("From when a failure was first seen to the run that found it resolved.\n\n")
		b.WriteString("| Rule | Severity | Title | Resolved | Median | Longest |\n|---|---|---|--:|--:|--:|\n")
		for _, t := range r.TimeToResolve {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |\n", code(t.RuleID), report.MarkdownCell(t.Severity), report.MarkdownCell(t.Title),
				t.Resolved, duration(t.MedianSeconds), duration(t.LongestSeconds))
		}
		b.WriteString("\n| Resolved | Run | Environment | Tenant | Rule | First seen | Open for |\n|---|--:|---|---|---|---|--:|\n")
		for _, x := range r.Resolutions {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", shortTime(x.ResolvedAt), x.ResolvedRun, report.MarkdownCell(x.Environment),
				report.MarkdownCell(x.Tenant), code(x.RuleID), shortTime(x.FirstSeen), duration(x.OpenSeconds))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Longest-open findings\n\n")
	if len(r.Open) == 0 {
		b.WriteString("Nothing fails at its last reading.\n\n")
	} else {
		if len(r.Open) > limit {
			fmt.Fprintf(&b, "The %d oldest of %d open findings; history.json lists them all.\n\n", limit, len(r.Open))
		}
		b.WriteString("| Environment | Tenant | Rule | Severity | First seen | Open for | Last read |\n|---|---|---|---|---|--:|---|\n")
		for _, o := range openShown(r) {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | run %d, %s |\n", report.MarkdownCell(o.Environment), report.MarkdownCell(o.Tenant),
				code(o.RuleID), report.MarkdownCell(o.Severity), shortTime(o.FirstSeen), duration(o.AgeSeconds), o.LastReadRun, shortTime(o.LastReadAt))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// code is an identifier in a code span, on one line, with nothing in it that could end the span or a
// table cell (GitHub reads \| as | inside a table's code span too).
func code(s string) string {
	s = strings.Join(strings.Fields(termtext.Clean(s)), " ")
	return "`" + strings.NewReplacer("`", "'", "|", "\\|").Replace(s) + "`"
}

func comparedWith(run int64) string {
	if run == 0 {
		return ""
	}
	return fmt.Sprintf(" (compared with run %d, the last that could read it)", run)
}

func runStatus(run Run) string {
	switch run.Status {
	case "complete":
		return "complete"
	case "":
		return "unknown"
	}
	if run.Error != "" {
		return report.MarkdownCell(run.Status + ": " + run.Error)
	}
	return report.MarkdownCell(run.Status)
}

// sparkBlocks draw a share from 0% to 100%.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// spark draws a series over the period's complete runs: a block per run that evaluated some of it, · for a
// run that read it but evaluated nothing (not audited, not applicable), – for a run that did not read it.
func spark(r *Report, ps []Point) string {
	at := map[int64]Point{}
	for _, p := range ps {
		at[p.RunID] = p
	}
	var b strings.Builder
	for _, run := range r.Runs {
		if !run.Complete() {
			continue
		}
		p, ok := at[run.ID]
		switch {
		case !ok:
			b.WriteRune('–')
		case p.Compliance == nil:
			b.WriteRune('·')
		default:
			i := int(*p.Compliance * float64(len(sparkBlocks)-1))
			b.WriteRune(sparkBlocks[i])
		}
	}
	return b.String()
}
