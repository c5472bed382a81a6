package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/termtext"
)

func init() {
	register(Format{Name: "markdown", Ext: "md", New: func(Options) Reporter { return markdownReporter{} }})
}

// markdownReporter writes GitHub-flavoured Markdown for a CI job summary ($GITHUB_STEP_SUMMARY, GitLab's
// report artifacts): the verdict and counts, the environments, then each failing result with its fix. Passing
// and not applicable results are counted, not listed. Tenant-supplied text is escaped so that it renders as
// text: no tags, links or table breaks can come from a display name, and no escape sequence or control
// character reaches a terminal.
type markdownReporter struct{}

func (markdownReporter) Write(w io.Writer, r *Report) error {
	var b bytes.Buffer
	s := r.Summary
	fmt.Fprintf(&b, "# Work 365 compliance audit: %s\n\n", mdText(tenantNames(r)))
	v := verdictOf(r)
	icon := map[string]string{"pass": "✅", "fail": "❌", "error": "⚠️"}[v.Class]
	fmt.Fprintf(&b, "%s **%s.** %s\n\n", icon, v.Title, v.Text)
	fmt.Fprintf(&b, "Scanned %s · %s %s · policy bundle `%s` (%d rules) · fail-on `%s`\n\n",
		formatTime(r.CollectedAt), r.Tool.Name, mdText(r.Tool.Version), shortDigest(r.Policy.Digest), r.Policy.Rules, r.FailOn)

	b.WriteString("| Severity |")
	for _, st := range Statuses {
		fmt.Fprintf(&b, " %s |", StatusLabel(st))
	}
	b.WriteString(" Total |\n|---|")
	for range Statuses {
		b.WriteString("--:|")
	}
	b.WriteString("--:|\n")
	for _, sev := range policy.Severities {
		total := 0
		fmt.Fprintf(&b, "| %s |", sev)
		for _, st := range Statuses {
			n := s.BySeverity[sev][st]
			total += n
			fmt.Fprintf(&b, " %d |", n)
		}
		fmt.Fprintf(&b, " %d |\n", total)
	}
	b.WriteString("| **All** |")
	for _, st := range Statuses {
		fmt.Fprintf(&b, " **%d** |", s.Results[st])
	}
	fmt.Fprintf(&b, " **%d** |\n\n", len(r.Results))

	if f := r.Fix; f != nil {
		var counts []string
		for _, c := range fixCounts(f) {
			counts = append(counts, fmt.Sprintf("%d %s", c.N, strings.ToLower(FixStatusLabel(c.Status))))
		}
		what := "Fix run"
		if f.Mode == "undo" {
			what = "Undo run"
		}
		fmt.Fprintf(&b, "## %s\n\n%s. Journal: `%s`. The results below are those of the verifying scan.\n\n", what, strings.Join(counts, ", "), strings.ReplaceAll(f.Journal, "`", "'"))
		b.WriteString("| Environment | Step | Rules | Outcome |\n|---|---|---|---|\n")
		for _, o := range f.Outcomes {
			outcome := FixStatusLabel(o.Status)
			if o.Reason != "" {
				outcome += ": " + o.Reason
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(o.Environment), mdCell(o.Description), mdCell(strings.Join(o.Rules, ", ")), mdCell(outcome))
		}
		b.WriteString("\n")
	}
	writeDriftMarkdown(&b, r)
	for _, t := range tenantErrors(r) {
		fmt.Fprintf(&b, "> [!WARNING]\n> Tenant %s: its environments could not be listed. %s\n\n", mdText(t.Name), mdText(oneLine(t.Error)))
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "> [!NOTE]\n> %s\n\n", mdText(oneLine(warn)))
	}

	fmt.Fprintf(&b, "## Environments\n\n| Environment | Tenant | Type | Region | Status | Results |\n|---|---|---|---|---|---|\n")
	for _, e := range r.Environments {
		var counts []string
		for _, st := range Statuses {
			if n := e.Counts[st]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, strings.ToLower(StatusLabel(st))))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCell(e.Name), mdCell(e.Tenant), mdCell(e.Type), mdCell(e.Region),
			mdStatus(e.Status), strings.Join(counts, ", "))
	}
	b.WriteString("\n")

	var unaudited []Environment
	for _, e := range r.Environments {
		if e.Status == policy.StatusError {
			unaudited = append(unaudited, e)
		}
	}
	if len(unaudited) > 0 {
		b.WriteString("## Could not be audited\n\n")
		for _, e := range unaudited {
			msg := e.Error
			if rs := r.ResultsOf(e.ID); len(rs) > 0 && rs[0].Status == policy.StatusError {
				msg = rs[0].Message
			}
			fmt.Fprintf(&b, "- **%s** (%s): %s\n", mdText(e.Name), mdText(e.Tenant), mdText(oneLine(msg)))
		}
		b.WriteString("\n")
	}

	failing := 0
	for _, e := range r.Environments {
		if e.Counts[policy.StatusFail] > 0 {
			failing++
		}
	}
	if failing > 0 {
		b.WriteString("## Failing results\n\n")
	}
	for _, e := range r.Environments {
		if e.Counts[policy.StatusFail] == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n%s · %s · %s · %s\n\n| Rule | Severity | Finding |\n|---|---|---|\n",
			mdText(e.Name), mdText(e.Tenant), mdText(e.Type), mdText(e.Region), plural(e.Counts[policy.StatusFail], "failing result", "failing results"))
		var fails []policy.Result
		for _, res := range r.ResultsOf(e.ID) {
			if res.Status == policy.StatusFail {
				fails = append(fails, res)
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", res.RuleID, res.Severity, mdCell(res.Message))
			}
		}
		b.WriteString("\n")
		for _, res := range fails {
			acts := Actions(res)
			if len(acts) == 0 {
				continue
			}
			how := "manual"
			if res.Remediation.Automatic {
				how = "`audit fix` can apply this"
			}
			if res.Remediation.OptIn != "" {
				how += ", with opt-in `" + res.Remediation.OptIn + "`"
			}
			fmt.Fprintf(&b, "<details><summary>How to fix %s (%s)</summary>\n\n", res.RuleID, how)
			if wv := res.Waiver; wv != nil && wv.Expired {
				fmt.Fprintf(&b, "A waiver expired on %s (owner %s): %s\n\n", mdText(wv.Expires), mdText(wv.Owner), mdText(oneLine(wv.Reason)))
			}
			for i, a := range acts {
				fmt.Fprintf(&b, "%d. %s\n", i+1, mdText(a.Text))
				for j, st := range a.Steps {
					fmt.Fprintf(&b, "   %d. %s\n", j+1, mdText(oneLine(st)))
				}
			}
			b.WriteString("\n</details>\n\n")
		}
	}

	var waived []policy.Result
	for _, res := range r.Results {
		if res.Status == policy.StatusWaived {
			waived = append(waived, res)
		}
	}
	if len(waived) > 0 {
		b.WriteString("## Waived\n\n| Environment | Rule | Severity | Until | Owner | Reason |\n|---|---|---|---|---|---|\n")
		for _, res := range waived {
			wv := res.Waiver
			if wv == nil {
				wv = &policy.WaiverInfo{}
			}
			reason := wv.Reason
			if wv.Ticket != "" {
				reason += " (" + wv.Ticket + ")"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", mdCell(res.EnvironmentName), res.RuleID, res.Severity,
				mdCell(wv.Expires), mdCell(wv.Owner), mdCell(reason))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

func mdStatus(s policy.Status) string {
	icon := map[policy.Status]string{policy.StatusPass: "✅", policy.StatusFail: "❌", policy.StatusError: "⚠️",
		policy.StatusWaived: "⏸️", policy.StatusNotApplicable: "➖"}[s]
	return strings.TrimSpace(icon + " " + StatusLabel(s))
}

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "&", "&amp;",
	"|", `\|`, "~", `\~`, "#", `\#`,
)

// mdText escapes text for Markdown: characters that would start emphasis, code, links, tags or headings. It
// cleans the text for a terminal first: Markdown goes to standard output with --output -, and control
// characters have no place in a job summary either.
func mdText(s string) string { return mdEscaper.Replace(termtext.Clean(s)) }

// mdCell is mdText on one line, for table cells.
func mdCell(s string) string { return mdText(oneLine(s)) }
