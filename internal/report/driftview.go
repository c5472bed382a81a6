package report

import (
	"bytes"
	"fmt"
	"time"
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
