package report

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/work365/audit/internal/policy"
)

// steering is what a tenant could put in a display name or an API message to take over an administrator's
// terminal: a window title (OSC ended by BEL), a screen clear, a colour by the single-byte CSI, a
// right-to-left override, a hyperlink (OSC 8 ended by ESC \) and a line break that would start a line of its own.
const steering = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\x1b]8;;http://x.example\x1b\\link\x1b]8;;\x1b\\\nFAKE LINE"

// steered is the fixture with steering text in every tenant-supplied field the terminal formats print.
func steered() *Report {
	r := fixture()
	for i := range r.Tenants {
		r.Tenants[i].Name += steering
		r.Tenants[i].Error += steering
	}
	for i := range r.Environments {
		e := &r.Environments[i]
		e.Name += steering
		e.Type += steering
		e.Region += steering
		e.Tenant += steering
		if e.Error != "" {
			e.Error += steering
		}
		if e.SkipReason != "" {
			e.SkipReason += steering
		}
	}
	for i := range r.Results {
		res := &r.Results[i]
		res.EnvironmentName += steering
		res.Message += steering
		if w := res.Waiver; w != nil {
			w.Reason += steering
			w.Owner += steering
			w.Ticket += steering
		}
	}
	// The table lists a waived result only next to failing ones: the sandbox's waiver moves to the failing environment.
	for i := range r.Results {
		if r.Results[i].Status == policy.StatusWaived {
			r.Results[i].EnvironmentID = r.Environments[0].ID
		}
	}
	for i := range r.Warnings {
		r.Warnings[i] += steering
	}
	r.Fix = &Fix{Mode: "apply", Journal: "fix-journal.jsonl", Counts: map[string]int{"failed": 1}, Outcomes: []FixOutcome{{
		Tenant: "contoso" + steering, Environment: "Prod" + steering, Action: "assign_role", Description: "Assign the role " + steering,
		Rules: []string{"W365.ROLES.1"}, Status: "failed", Reason: "HTTP 400: " + steering}}}
	r.Drift = &Drift{
		NewFailures: []DriftResult{{Environment: "Prod" + steering, RuleID: "W365.ROLES.1", Severity: "high", Message: steering}},
		Resolved:    []DriftResult{{Environment: "Prod" + steering, RuleID: "W365.ROLES.2", Severity: "high", Status: "pass"}},
		Persisting:  []DriftResult{{Environment: "Prod" + steering, RuleID: "W365.ROLES.3", Severity: "high"}},
		Inventory: []InventoryChange{{Kind: RoleAdded, Tenant: "contoso" + steering, Environment: "Prod" + steering,
			After: "System Administrator" + steering}},
	}
	return r
}

// The formats people read on a terminal print a tenant's text without anything that steers the terminal:
// only the table's own colour codes are escape sequences.
func TestTerminalFormatsPrintNoTenantControls(t *testing.T) {
	t.Parallel()
	ours := regexp.MustCompile(regexp.QuoteMeta(ansiReset) + "|" + regexp.QuoteMeta(ansiRed) + "|" + regexp.QuoteMeta(ansiYellow) + "|" +
		regexp.QuoteMeta(ansiGreen) + "|" + regexp.QuoteMeta(ansiDim) + "|" + regexp.QuoteMeta(ansiBold))
	tests := []struct {
		format string
		opts   Options
	}{
		{"table", Options{Width: 80}},
		{"table", Options{Width: 200, Color: true}},
		{"markdown", Options{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s colour=%t", tt.format, tt.opts.Color), func(t *testing.T) {
			t.Parallel()
			out := ours.ReplaceAllString(render(t, tt.format, steered(), tt.opts), "")
			for _, bad := range []string{"\x1b", "\u009b", "\a", "\u202e", "\r"} {
				assert.NotContains(t, out, bad)
			}
			assert.Contains(t, out, "evillink")
			assert.NotRegexp(t, regexp.MustCompile(`(?m)^FAKE LINE`), out, "a tenant's line break does not start a line")
		})
	}
}
