package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
)

// hostile is tenant-supplied text that must render as text in every format.
const hostile = `<script>alert(1)</script>`

// fixture is a small report with every status, a waiver and an expired one, every kind of remediation action,
// an environment and a tenant that could not be read, and hostile display names.
func fixture() *Report {
	rules := []Rule{
		{ID: "W365.APPUSER.1", Title: "An application user exists", Description: "Checks the application user.", Severity: "critical",
			Guide: "Step 2: Create a New Application User", Remediation: "Create it in the admin center.", Automatic: true, Source: "embedded",
			Related: []policy.Resource{{Ref: "https://learn.microsoft.com/power-platform/admin/manage-application-users", Description: "Manage application users"}}},
		{ID: "W365.BIND.1", Title: "No flows bound to a retired account", Description: "Checks flow owners.", Severity: "medium",
			Remediation: "Reassign the flows.", Source: "embedded"},
		{ID: "W365.ROLES.3", Title: "Least privilege", Description: "No other role.", Severity: "medium", Remediation: "Remove roles.",
			Automatic: true, Source: "embedded"},
	}
	const usApp, euApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "5e56ae97-9be1-40d3-938b-99ea52175a30"
	evil := Environment{Tenant: "contoso", ID: "11111111-1111-1111-1111-111111111111", Name: hostile, Type: "Production",
		Region: "unitedstates", InstanceURL: "https://evil.crm.dynamics.com/", RegionAppID: usApp, CollectionStatus: "ok",
		Inventory: &Inventory{Roles: []string{"System Administrator", "Work 365 Portal Service", "Work 365 Service"}, Work365Version: "3.6.0.0",
			Work365FoundBy: "friendly_name", BusinessUnit: "evil<b>bu</b>", AppID: usApp,
			DirectRoles: []string{"System Administrator", "Work 365 Service"},
			TeamRoles:   []TeamRole{{Role: "Work 365 Portal Service", Team: "+Ops <team>"}},
			ApplicationUser: &User{ID: "u1", Name: "# Work 365", AppID: usApp, Kind: "application", Enabled: true,
				BusinessUnit: "evil<b>bu</b>"},
			ServiceUser: &User{ID: "u2", Name: "=HYPERLINK(\"http://x\")", DomainName: "svc@contoso.com", Kind: "person", Enabled: true, Licensed: true},
			ServiceUserSetting: &Setting{ID: "s1", ModifiedOn: time.Date(2026, 9, 14, 8, 30, 0, 0, time.UTC), ModifiedBy: "@Pat <Former>",
				ModifiedByID: "u3"}}}
	sandbox := Environment{Tenant: "contoso", ID: "22222222-2222-2222-2222-222222222222", Name: "Sandbox | *bold* [link](http://x)", Type: "Sandbox",
		Region: "europe", RegionAppID: euApp, CollectionStatus: "ok", Inventory: &Inventory{Roles: []string{}, DirectRoles: []string{},
			Work365Version: "3.7.0.0", Work365FoundBy: "unique_name", ServiceUserSetting: &Setting{ID: "s2"}}}
	broken := Environment{Tenant: "contoso", ID: "33333333-3333-3333-3333-333333333333", Name: "=SUM(1,2) Broken\x1b[2J", Type: "Production", Region: "unitedstates",
		RegionAppID: usApp, CollectionStatus: "error", Error: "systemusers: HTTP 403"}
	empty := Environment{Tenant: "contoso", ID: "44444444-4444-4444-4444-444444444444", Name: "Empty", Type: "Default", Region: "unitedstates",
		RegionAppID: usApp, CollectionStatus: "skipped", SkipReason: "the environment has no Dataverse database"}
	res := func(e Environment, rule Rule, status, msg string) policy.Result {
		return policy.Result{Tenant: e.Tenant, EnvironmentID: e.ID, EnvironmentName: e.Name, RuleID: rule.ID, Title: rule.Title,
			Status: policy.Status(status), Severity: rule.Severity, Message: msg}
	}
	appFail := res(evil, rules[0], string(policy.StatusFail), `No application user for "`+hostile+`"; flow <img src=x onerror=alert(2)> | *x*`)
	appFail.Evidence = map[string]any{"name": hostile, "count": 1}
	appFail.Remediation = &policy.Remediation{Summary: "Create it in the admin center.", Automatic: true, Actions: []map[string]any{
		{"action": "create_app_user", "app_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "business_unit_id": "bu-1"},
		{"action": "assign_role", "app_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "role": "Work 365 Service"},
		{"action": "set_service_user", "app_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd"},
		{"action": "clear_cache"},
	}}
	bindFail := res(evil, rules[1], string(policy.StatusFail), "1 cloud flow owned by a disabled user: \"-1+2\" owned by \"Pat\".")
	bindFail.Remediation = &policy.Remediation{Summary: "Reassign the flows.", OptIn: "reassign-owners", Actions: []map[string]any{
		{"action": "manual", "title": "Reassign the flows", "steps": []any{"Open Power Apps → " + hostile + ".", "Assign each flow to the application user."}},
	}}
	bindFail.Waiver = &policy.WaiverInfo{Reason: "Known", Owner: "mtan@contoso.com", Ticket: "INC-1", Expires: "2026-10-31", Expired: true}
	rolesFail := res(evil, rules[2], string(policy.StatusFail), "Holds System Administrator.")
	rolesFail.Remediation = &policy.Remediation{Summary: "Remove roles.", Automatic: true, OptIn: "fix-privileges", Actions: []map[string]any{
		{"action": "remove_role", "user_id": "u1", "role_id": "r1", "role": "System Administrator", "opt_in": "fix-privileges"},
		{"action": "enable_user", "user_id": "u1", "app_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd"},
		{"action": "purge_app_user", "user_id": "u9", "app_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "opt_in": "purge-deleted"},
	}}
	waived := res(sandbox, rules[2], string(policy.StatusWaived), "Holds System Administrator.")
	waived.Evidence = map[string]any{"roles": []any{"System Administrator"}}
	waived.Remediation = &policy.Remediation{Summary: "Remove roles.", Automatic: true, OptIn: "fix-privileges", Actions: []map[string]any{}}
	waived.Waiver = &policy.WaiverInfo{Reason: "Migration <until> cut-over", Owner: "jdoe@contoso.com", Ticket: "CHG-2291", Expires: "2027-06-30"}
	results := []policy.Result{
		appFail, bindFail, rolesFail,
		res(sandbox, rules[0], string(policy.StatusPass), ""), res(sandbox, rules[1], string(policy.StatusNotApplicable), "No flows in a sandbox."), waived,
		res(broken, rules[0], string(policy.StatusError), "could not collect systemusers: HTTP 403"),
		res(broken, rules[1], string(policy.StatusError), "could not collect systemusers: HTTP 403"),
		res(broken, rules[2], string(policy.StatusError), "could not collect systemusers: HTTP 403"),
		res(empty, rules[0], string(policy.StatusNotApplicable), "The environment has no Dataverse database."),
		res(empty, rules[1], string(policy.StatusNotApplicable), "The environment has no Dataverse database."),
		res(empty, rules[2], string(policy.StatusNotApplicable), "The environment has no Dataverse database."),
	}
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "audit", Version: "1.2.3"},
		Policy:        PolicyInfo{Digest: "sha256:" + "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", Rules: len(rules), Sources: []string{"embedded"}},
		GeneratedAt:   time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC),
		CollectedAt:   time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		FailOn:        "high",
		Tenants: []Tenant{{Name: "contoso", ID: "3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f", Cloud: "public", Environments: 4},
			{Name: "north<wind>", ID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", Cloud: "public", Error: "list environments: HTTP 403 " + hostile}},
		Environments: []Environment{evil, sandbox, broken, empty},
		Rules:        rules,
		Results:      results,
		Warnings:     []string{"waiver for W365.BIND.1 in \"" + hostile + "\" expired on 2026-10-31"},
	}
	for i := range r.Environments {
		e := &r.Environments[i]
		e.Counts = Counts{}
		for _, res := range results {
			if res.EnvironmentID == e.ID {
				e.Counts[res.Status]++
			}
		}
		e.Status = overall(e.Counts)
	}
	r.Summary = summarize(r, r.FailOn)
	return r
}

// render writes r in the named format.
func render(t *testing.T, name string, r *Report, opts Options) string {
	t.Helper()
	f, err := Lookup(name)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, f.New(opts).Write(&buf, r))
	return buf.String()
}
