package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/work365/audit/internal/policy"
)

// Statuses lists the result statuses in the order reports present them: what needs action first.
var Statuses = []policy.Status{policy.StatusFail, policy.StatusError, policy.StatusWaived, policy.StatusPass, policy.StatusNotApplicable}

// StatusLabel is the human name of a status.
func StatusLabel(s policy.Status) string {
	switch s {
	case policy.StatusPass:
		return "Pass"
	case policy.StatusFail:
		return "Fail"
	case policy.StatusWaived:
		return "Waived"
	case policy.StatusNotApplicable:
		return "Not applicable"
	case policy.StatusError:
		return "Error"
	}
	return string(s)
}

func statusRank(s policy.Status) int {
	for i, v := range Statuses {
		if v == s {
			return i
		}
	}
	return len(Statuses)
}

// Rule returns the catalog entry of id, and whether the report has it.
func (r *Report) Rule(id string) (Rule, bool) {
	for _, rule := range r.Rules {
		if rule.ID == id {
			return rule, true
		}
	}
	return Rule{}, false
}

// ResultsOf returns the results of one environment in display order: failing first (most severe first), then
// errors, waived, passing and not applicable results, each by rule ID.
func (r *Report) ResultsOf(environmentID string) []policy.Result {
	var out []policy.Result
	for _, res := range r.Results {
		if res.EnvironmentID == environmentID {
			out = append(out, res)
		}
	}
	sortForDisplay(out)
	return out
}

func sortForDisplay(rs []policy.Result) {
	sort.SliceStable(rs, func(i, j int) bool { return displayLess(&rs[i], &rs[j]) })
}

// displayLess orders results for display: by status, most severe first, by rule ID.
func displayLess(a, b *policy.Result) bool {
	if ra, rb := statusRank(a.Status), statusRank(b.Status); ra != rb {
		return ra < rb
	}
	if sa, sb := policy.SeverityRank(a.Severity), policy.SeverityRank(b.Severity); sa != sb {
		return sa > sb
	}
	return a.RuleID < b.RuleID
}

// Action is a remediation action as reports show it: one sentence, or a manual procedure with numbered steps.
type Action struct {
	Name   string   // the action key: create_app_user, manual, …
	Text   string   // what it does, in one sentence
	Steps  []string // the steps of a manual action, to be numbered
	OptIn  string   // the opt-in the fixer needs for it, if any
	Manual bool     // shown to people, never executed
}

// DescribeAction turns a structured remediation action into what a person reads.
func DescribeAction(a map[string]any) Action {
	str := func(k string) string {
		s, _ := a[k].(string)
		return s
	}
	appUser := func() string {
		if id := str("app_id"); id != "" {
			return "the application user of App ID " + id
		}
		return "the Work 365 application user"
	}
	out := Action{Name: str("action"), OptIn: str("opt_in")}
	switch out.Name {
	case "create_app_user":
		out.Text = fmt.Sprintf("Create the application user for App ID %s in the root business unit", str("app_id"))
		if bu := str("business_unit_id"); bu != "" {
			out.Text += " (" + bu + ")"
		}
		out.Text += ", through the Dataverse Web API."
	case "enable_user":
		out.Text = fmt.Sprintf("Enable %s (user %s).", appUser(), str("user_id"))
	case "assign_role":
		out.Text = fmt.Sprintf("Assign the security role %q to %s.", str("role"), appUser())
	case "remove_role":
		out.Text = fmt.Sprintf("Remove the security role %q from user %s.", str("role"), str("user_id"))
	case "set_service_user":
		out.Text = fmt.Sprintf("Point the Work 365 service-user setting at %s.", appUser())
	case "clear_cache":
		out.Text = "Clear the Work 365 cache."
	case "purge_app_user":
		out.Text = fmt.Sprintf("Permanently delete the soft-deleted application user %s (App ID %s) so that it can be created again.",
			str("user_id"), str("app_id"))
	case "manual":
		out.Manual = true
		out.Text = str("title")
		if out.Text == "" {
			out.Text = "Manual steps"
		}
		if steps, ok := a["steps"].([]any); ok {
			for _, s := range steps {
				if t, ok := s.(string); ok {
					out.Steps = append(out.Steps, t)
				}
			}
		}
		if steps, ok := a["steps"].([]string); ok {
			out.Steps = append(out.Steps, steps...)
		}
	default:
		// An action of a user's own policy: show what it carries.
		rest := map[string]any{}
		for k, v := range a {
			if k != "action" {
				rest[k] = v
			}
		}
		out.Text = out.Name
		if len(rest) > 0 {
			b, _ := json.Marshal(rest)
			out.Text += " " + string(b)
		}
	}
	return out
}

// Actions describes the remediation actions of a result, in the order to apply them.
func Actions(res policy.Result) []Action {
	if res.Remediation == nil {
		return nil
	}
	out := make([]Action, 0, len(res.Remediation.Actions))
	for _, a := range res.Remediation.Actions {
		out = append(out, DescribeAction(a))
	}
	return out
}

// tenantNames lists the tenants of the report, by name.
func tenantNames(r *Report) string {
	names := make([]string, 0, len(r.Tenants))
	for _, t := range r.Tenants {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// failingBySeverity counts failing results per severity, most severe first, skipping zeros: "10 critical, 6 high".
func failingBySeverity(r *Report) string {
	var parts []string
	for _, sev := range policy.Severities {
		if n := r.Summary.BySeverity[sev][policy.StatusFail]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	return strings.Join(parts, ", ")
}
