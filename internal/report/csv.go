package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

func init() {
	register(Format{Name: "csv", Ext: "csv", New: func(Options) Reporter { return csvReporter{} }})
}

// csvReporter writes one row per result, as RFC 4180 describes: a header row, CRLF line endings, fields quoted
// when they hold a comma, a quote or a line break. A field that a spreadsheet would run as a formula (one that
// starts with =, +, -, @, a tab or a carriage return) gets a leading apostrophe, since names come from the tenant.
type csvReporter struct{}

// CSVColumns are the columns of the CSV report, in order.
var CSVColumns = []string{
	"tenant", "environment_id", "environment", "environment_type", "region", "rule_id", "title", "severity", "status",
	"message", "remediation", "automatic", "opt_in", "actions", "waiver_reason", "waiver_owner", "waiver_ticket",
	"waiver_expires", "waiver_expired", "evidence",
}

func (csvReporter) Write(w io.Writer, r *Report) error {
	envs := map[string]*Environment{} // the last environment of each ID
	for i := range r.Environments {
		envs[r.Environments[i].ID] = &r.Environments[i]
	}
	none := &Environment{}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for i := range r.Results {
		res := &r.Results[i]
		e := envs[res.EnvironmentID]
		if e == nil {
			e = none
		}
		row := []string{res.Tenant, res.EnvironmentID, res.EnvironmentName, e.Type, e.Region, res.RuleID, res.Title,
			res.Severity, string(res.Status), res.Message, "", "", "", "", "", "", "", "", "", ""}
		if rem := res.Remediation; rem != nil {
			row[10] = rem.Summary
			row[11] = strconv.FormatBool(rem.Automatic)
			row[12] = rem.OptIn
			names := make([]string, 0, len(rem.Actions))
			for _, a := range rem.Actions {
				if s, ok := a["action"].(string); ok {
					names = append(names, s)
				}
			}
			row[13] = strings.Join(names, " ")
		}
		if wv := res.Waiver; wv != nil {
			row[14], row[15], row[16], row[17], row[18] = wv.Reason, wv.Owner, wv.Ticket, wv.Expires, strconv.FormatBool(wv.Expired)
		}
		if len(res.Evidence) > 0 {
			b, err := json.Marshal(res.Evidence)
			if err != nil {
				return err
			}
			row[19] = string(b)
		}
		for i := range row {
			row[i] = defuse(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// defuse keeps a spreadsheet from evaluating a field as a formula (OWASP's advice against CSV injection).
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
