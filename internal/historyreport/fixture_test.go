package historyreport

import (
	"strings"
	"time"

	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// t0 is the first run of the fixed history; runs are six hours apart.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func runAt(n int) time.Time { return t0.Add(time.Duration(n-1) * 6 * time.Hour) }

const (
	prod    = "0a1b2c3d-0000-4000-8000-000000000001"
	finance = "0a1b2c3d-0000-4000-8000-000000000002"
	lab     = "0A1B2C3D-0000-4000-8000-000000000003" // upper case: IDs compare without case
	labName = "R&D <Lab> | *x* `y`"                  // a hostile name: HTML, Markdown and table syntax
)

var rules = []report.Rule{
	{ID: "W365.A", Title: "Rule A holds", Severity: "critical"},
	{ID: "W365.B", Title: "Rule B holds", Severity: "high"},
	{ID: "W365.C", Title: "Rule C holds", Severity: "medium"},
}

// state is one environment as a fixture run reads it: its rules' statuses ("" when it could not be read,
// so every result is error) and its application user's roles.
type state struct {
	tenant, id, name string
	statuses         string // one letter per rule: P pass, F fail, W waived, N not applicable
	roles            []string
}

// fixtureRun is a run of the fixed history.
type fixtureRun struct {
	info     RunInfo
	envs     []state
	tenantKO []string // tenants whose environment list could not be read
}

var letters = map[byte]policy.Status{'P': policy.StatusPass, 'F': policy.StatusFail, 'W': policy.StatusWaived, 'N': policy.StatusNotApplicable}

// reportOf builds the report a run recorded.
func reportOf(fr fixtureRun) *report.Report {
	rep := &report.Report{SchemaVersion: report.SchemaVersion, Tool: report.Tool{Name: "audit", Version: "test"},
		CollectedAt: fr.info.StartedAt.Add(time.Minute), FailOn: "high", Rules: rules}
	failed := map[string]bool{}
	for _, t := range fr.tenantKO {
		failed[t] = true
	}
	for _, name := range []string{"contoso", "fabrikam"} {
		t := report.Tenant{Name: name, ID: name + "-id"}
		if failed[name] {
			t.Error = "environments: 401 Unauthorized"
		}
		rep.Tenants = append(rep.Tenants, t)
	}
	for _, e := range fr.envs {
		if failed[e.tenant] {
			continue
		}
		env := report.Environment{Tenant: e.tenant, ID: e.id, Name: e.name, Type: "Production", Region: "unitedstates",
			CollectionStatus: "ok", Counts: report.Counts{}}
		if e.statuses == "" {
			env.CollectionStatus, env.Error = "error", "systemusers: 403 Forbidden"
		} else {
			env.Inventory = &report.Inventory{Roles: e.roles, Work365Version: "3.6.0.1",
				ApplicationUser: &report.User{ID: "app-" + e.id, Name: "Work 365 app", Kind: "application", Enabled: true}}
		}
		for i, rule := range rules {
			st := policy.StatusError
			msg := "could not be read"
			if e.statuses != "" {
				st, msg = letters[e.statuses[i]], rule.Title+" in "+e.name
			}
			rep.Results = append(rep.Results, policy.Result{Tenant: e.tenant, EnvironmentID: e.id, EnvironmentName: e.name, RuleID: rule.ID,
				Title: rule.Title, Severity: rule.Severity, Status: st, Message: msg})
			env.Counts[st]++
		}
		rep.Environments = append(rep.Environments, env)
	}
	return rep
}

var (
	both    = []string{"Work 365 Service", "Basic User"}
	service = []string{"Work 365 Service"}
)

// fixtureRuns is the fixed history:
//
//	run 1  everything read; Prod fails B, Finance fails A and B
//	run 2  Prod's B resolved; the lab starts failing A
//	run 3  failed (no results)
//	run 4  an outage: Finance cannot be read, nor fabrikam's environment list; Prod starts failing C
//	run 5  everything read again: Finance's A was fixed during the outage; Basic User taken from Prod
//	run 6  a scan of scope env=Contoso*: Prod's C resolved there
func fixtureRuns() []fixtureRun {
	info := func(id int, scope string) RunInfo {
		return RunInfo{ID: int64(id), StartedAt: runAt(id), Status: "complete", Trigger: "schedule", Scope: scope, ToolVersion: "test",
			PolicyDigest: "sha256:" + strings.Repeat("ab", 32), ExitCode: 3}
	}
	failedRun := info(3, "")
	failedRun.Status, failedRun.ExitCode, failedRun.Error = "failed", 1, "collect contoso: token request failed"
	return []fixtureRun{
		{info: info(1, ""), envs: []state{{"contoso", prod, "Contoso Production", "PFP", both}, {"contoso", finance, "Contoso Finance", "FFP", service},
			{"fabrikam", lab, labName, "PPN", service}}},
		{info: info(2, ""), envs: []state{{"contoso", prod, "Contoso Production", "PPP", both}, {"contoso", finance, "Contoso Finance", "FFP", service},
			{"fabrikam", lab, labName, "FPN", service}}},
		{info: failedRun},
		{info: info(4, ""), envs: []state{{"contoso", prod, "Contoso Production", "PPF", both}, {"contoso", finance, "Contoso Finance", "", nil},
			{"fabrikam", lab, labName, "FPN", service}}, tenantKO: []string{"fabrikam"}},
		{info: info(5, ""), envs: []state{{"contoso", prod, "Contoso Production", "PPF", service}, {"contoso", finance, "Contoso Finance", "PFP", service},
			{"fabrikam", lab, labName, "FWN", service}}},
		{info: info(6, "env=Contoso*"), envs: []state{{"contoso", prod, "Contoso Production", "PPP", service},
			{"contoso", finance, "Contoso Finance", "PFP", service}}},
	}
}

// fixtureScans records the fixed history as the scan records it: each complete run compared with the
// previous complete run of its scope (drift.FirstSeen, drift.Unread), and feeds it to a builder as the
// application layer does. It returns the builder.
func fixtureBuilder(o Options) *Builder {
	runs := fixtureRuns()
	b := NewBuilder(o, runs[len(runs)-1].info.StartedAt)
	prev := map[string]*drift.Scan{}
	for _, fr := range runs {
		if fr.info.Status != "complete" {
			b.Add(fr.info, nil, nil)
			continue
		}
		before := prev[fr.info.Scope]
		cur := &drift.Scan{Report: reportOf(fr), RunID: fr.info.ID}
		cur.FirstSeen = drift.FirstSeen(before, *cur)
		cur.LastRead = drift.Unread(before, *cur)
		b.Add(fr.info, before, cur)
		prev[fr.info.Scope] = cur
	}
	return b
}

func fixture(o Options) *Report { return fixtureBuilder(o).Report() }
