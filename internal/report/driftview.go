package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/work365/audit/internal/termtext"
)

// writeDriftMarkdown writes the "changed since the last scan" section of the Markdown report.
func writeDriftMarkdown(b *bytes.Buffer, r *Report) {
	if r.Drift == nil {
		return
	}
	b.WriteString("## Changed since the last scan\n\n")
	driftMarkdown(b, r.Drift, r.CollectedAt)
}

// DriftMarkdown renders a drift as Markdown (audit diff --format markdown); now is the later scan's time.
func DriftMarkdown(d *Drift, now time.Time) string {
	var b bytes.Buffer
	driftMarkdown(&b, d, now)
	return b.String()
}

func driftMarkdown(b *bytes.Buffer, d *Drift, now time.Time) {
	fmt.Fprintf(b, "%s.\n\n", mdText(d.Line()))
	if len(d.NewFailures) > 0 {
		b.WriteString("**New failures**\n\n| Environment | Rule | Severity | Finding |\n|---|---|---|---|\n")
		for _, x := range d.NewFailures {
			fmt.Fprintf(b, "| %s | `%s` | %s | %s |\n", mdCell(x.Environment), x.RuleID, x.Severity, mdCell(x.Message))
		}
		b.WriteString("\n")
	}
	if len(d.Resolved) > 0 {
		b.WriteString("**Resolved**\n\n| Environment | Rule | Severity | Now | Had failed for |\n|---|---|---|---|---|\n")
		for _, x := range d.Resolved {
			fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s |\n", mdCell(x.Environment), x.RuleID, x.Severity, mdStatus(x.Status), Age(x.FirstSeen, now))
		}
		b.WriteString("\n")
	}
	if len(d.Inventory) > 0 {
		b.WriteString("**Inventory changes**\n\n")
		for _, c := range d.Inventory {
			fmt.Fprintf(b, "- **%s** (%s): %s\n", mdText(c.Environment), mdText(c.Tenant), mdText(c.Describe()))
		}
		b.WriteString("\n")
	}
	if len(d.Persisting) > 0 {
		fmt.Fprintf(b, "<details><summary>%s</summary>\n\n| Environment | Rule | Severity | First seen | Failing for |\n|---|---|---|---|---|\n",
			plural(len(d.Persisting), "persisting failure", "persisting failures"))
		for _, x := range d.Persisting {
			fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s |\n", mdCell(x.Environment), x.RuleID, x.Severity, x.FirstSeen.UTC().Format("2006-01-02 15:04 UTC"),
				Age(x.FirstSeen, now))
		}
		b.WriteString("\n</details>\n\n")
	}
}

// DriftText writes a drift for a terminal (audit diff): afterName names the later scan, now is its time. Every
// cell is cleaned for the terminal; the tabs between them are its own.
func DriftText(w io.Writer, d *Drift, afterName string, now time.Time) {
	termtext.Fprintf(w, "Changes from %s to %s\n", d.Baseline.Describe(), afterName)
	line := d.Line()
	if i := strings.LastIndex(line, " since "); i > 0 {
		line = line[:i]
	}
	termtext.Fprintf(w, "%s\n", line)
	if e := d.Earlier(); e != "" {
		termtext.Fprintf(w, "%s.\n", strings.ToUpper(e[:1])+e[1:])
	}
	section := func(title string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = termtext.Clean(c)
			}
			fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
	var rows [][]string
	for _, x := range d.NewFailures {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, cut(termtext.Clean(x.Message), 100)})
	}
	section("New failures", rows)
	rows = nil
	for _, x := range d.Resolved {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, "now " + strings.ReplaceAll(string(x.Status), "_", " ") + ", had failed for " + Age(x.FirstSeen, now)})
	}
	section("Resolved", rows)
	rows = nil
	for _, x := range d.Persisting {
		rows = append(rows, []string{x.Environment, x.RuleID, x.Severity, "first seen " + x.FirstSeen.UTC().Format("2006-01-02 15:04 UTC") + " (" + Age(x.FirstSeen, now) + ")"})
	}
	section("Persisting", rows)
	rows = nil
	for _, c := range d.Inventory {
		rows = append(rows, []string{c.Environment + " (" + c.Tenant + ")", c.Describe()})
	}
	section("Inventory changes", rows)
}

// cut is s on one line, cut to max runes.
func cut(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
