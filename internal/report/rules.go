package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/work365/audit/internal/policy"
)

// RulesReference writes the rule reference in Markdown from the rules' METADATA (audit policies docs;
// docs/rules.md is its output for the embedded policies).
func RulesReference(w io.Writer, rules []policy.Rule) error {
	fmt.Fprintln(w, "# Rule reference")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated from the METADATA of the policies by `audit policies docs`; do not edit by hand.")
	fmt.Fprintln(w, "Rule IDs are part of the public contract. Each (environment, rule) pair is reported as `pass`, `fail`,")
	fmt.Fprintln(w, "`waived`, `not_applicable` or `error`.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| ID | Severity | Title | Fix |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rules {
		fmt.Fprintf(w, "| [%s](#%s) | %s | %s | %s |\n", r.ID, anchor(r.ID), r.Severity, refEscape(r.Title), fixKind(r))
	}
	for _, r := range rules {
		fmt.Fprintf(w, "\n## %s\n\n**%s**\n\n", r.ID, refEscape(r.Title))
		fmt.Fprintf(w, "- Severity: %s\n", r.Severity)
		if r.Guide != "" {
			fmt.Fprintf(w, "- Guide: %s\n", refEscape(r.Guide))
		}
		fmt.Fprintf(w, "- Remediation: %s\n", fixKind(r))
		fmt.Fprintf(w, "- Scope: %s\n", r.Scope)
		fmt.Fprintf(w, "- Package: `%s` (`%s`)\n\n", r.Package, r.File)
		fmt.Fprintf(w, "%s\n", r.Description)
		if r.Remediation != "" {
			fmt.Fprintf(w, "\n**What to do.** %s\n", r.Remediation)
		}
		if len(r.Related) > 0 {
			fmt.Fprintln(w, "\nSee also:")
			for _, rr := range r.Related {
				fmt.Fprintf(w, "\n- [%s](%s)", refEscape(rr.Description), rr.Ref)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

func fixKind(r policy.Rule) string {
	switch {
	case r.Automatic && r.OptIn != "":
		return "automatic with `--" + r.OptIn + "`"
	case r.Automatic:
		return "automatic"
	}
	return "manual"
}

func anchor(id string) string {
	return strings.ToLower(strings.ReplaceAll(id, ".", ""))
}

func refEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
}
