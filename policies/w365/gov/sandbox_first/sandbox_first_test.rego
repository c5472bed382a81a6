package w365.gov.sandbox_first_test

import data.w365.gov.sandbox_first

results(statuses) := {id: {"status": status, "severity": severity} |
	some id, status in statuses
	severity := severities[id]
}

severities := {
	"W365.APPUSER.1": "critical",
	"W365.SERVICE.1": "critical",
	"W365.SERVICE.3": "critical",
	"W365.ROLES.2": "high",
}

all_passing := results({
	"W365.APPUSER.1": "pass",
	"W365.SERVICE.1": "pass",
	"W365.SERVICE.3": "pass",
	"W365.ROLES.2": "fail",
})

production_summary := {
	"has_dataverse": true,
	"id": "env-prod",
	"name": "Contoso Production",
	"type": "Production",
	"region": "unitedstates",
	"status": "ok",
	"work365_installed": true,
	"work365_version": "3.5.2.0",
	"results": all_passing,
}

sandbox(id, name, installed, res) := {
	"has_dataverse": true,
	"id": id,
	"name": name,
	"type": "Sandbox",
	"region": "unitedstates",
	"status": "ok",
	"work365_installed": installed,
	"work365_version": "3.5.2.0",
	"results": res,
}

tenant_input(summaries) := {"tenant": {
	"name": "Contoso",
	"id": "tenant-1",
	"environments": array.concat([production_summary], summaries),
}}

# decisions_for keeps the decisions about one environment.
denials_for(id) := {d | some d in sandbox_first.deny; d.environment_id == id}

reasons_for(id) := {n.reason | some n in sandbox_first.not_applicable; n.environment_id == id}

test_pass_with_a_sandbox_passing_its_critical_rules if {
	inp := tenant_input([sandbox("env-uat", "Contoso UAT", true, all_passing)])
	count(sandbox_first.deny) == 0 with input as inp
	count(reasons_for("env-prod")) == 0 with input as inp
}

test_pass_when_the_sandboxs_failing_critical_rule_is_waived if {
	res := results({"W365.APPUSER.1": "waived", "W365.SERVICE.1": "not_applicable", "W365.SERVICE.3": "pass"})
	count(sandbox_first.deny) == 0 with input as tenant_input([sandbox("env-uat", "Contoso UAT", true, res)])
}

test_pass_when_one_of_several_sandboxes_qualifies if {
	inp := tenant_input([
		sandbox("env-dev", "Contoso Dev", false, {}),
		sandbox("env-uat", "Contoso UAT", true, all_passing),
	])
	count(sandbox_first.deny) == 0 with input as inp
}

test_pass_when_two_sandboxes_qualify if {
	inp := tenant_input([
		sandbox("env-uat", "Contoso UAT", true, all_passing),
		sandbox("env-test", "Contoso Test", true, all_passing),
	])
	sandbox_first.two_qualify with input as inp
	count(sandbox_first.deny) == 0 with input as inp
}

test_fail_without_any_sandbox if {
	inp := tenant_input([])
	sandbox_first.deny == {{
		"environment_id": "env-prod",
		"message": "Tenant \"Contoso\" runs Work 365 in production but has no sandbox environment (types: Sandbox) in which to validate changes first.",
		"evidence": {
			"tenant": {"id": "tenant-1", "name": "Contoso"},
			"sandbox_types": ["Sandbox"],
			"sandboxes": [],
		},
		"actions": [{
			"action": "manual",
			"title": "Validate Work 365 changes in a sandbox first",
			"steps": [
				"Choose a sandbox of tenant \"Contoso\" for Work 365 (none exists yet), or create one in the Power Platform admin center (https://admin.powerplatform.microsoft.com) → Environments → + New with type Sandbox, or copy \"Contoso Production\" into one (Environments → \"Contoso Production\" → Copy).",
				"Install Work 365 3.5 or later there and configure its application user as the guide describes.",
				"Run the audit on the sandbox and fix it until its critical rules pass; generate a test invoice there to confirm end-to-end execution.",
				"Apply the change to \"Contoso Production\" afterwards: audit fix changes production only after a sandbox of the tenant passes, or with --allow-production.",
			],
		}],
	}} with input as inp
}

test_fail_names_each_sandbox_and_why_it_does_not_qualify if {
	failing := results({"W365.APPUSER.1": "pass", "W365.SERVICE.1": "fail", "W365.SERVICE.3": "error", "W365.ROLES.2": "fail"})
	broken := object.union(sandbox("env-test", "Contoso Test", true, {}), {"status": "error"})
	inp := tenant_input([
		sandbox("env-uat", "Contoso UAT", true, failing),
		sandbox("env-dev", "Contoso Dev", false, all_passing),
		broken,
	])
	some result in denials_for("env-prod") with input as inp
	result.message == "Tenant \"Contoso\" runs Work 365 in production but none of its sandboxes qualifies to validate changes first: \"Contoso Dev\" (Work 365 not installed); \"Contoso Test\" (could not be audited: status error); \"Contoso UAT\" (critical rules not passing: W365.SERVICE.1 fail, W365.SERVICE.3 error)."
	[s.name | some s in result.evidence.sandboxes] == ["Contoso Dev", "Contoso Test", "Contoso UAT"]
	result.evidence.sandboxes[2].failing_critical == [
		{"rule": "W365.SERVICE.1", "status": "fail"},
		{"rule": "W365.SERVICE.3", "status": "error"},
	]
	startswith(result.actions[0].steps[0], "Choose a sandbox of tenant \"Contoso\" for Work 365 (existing: \"Contoso Dev\", \"Contoso Test\", \"Contoso UAT\")")
}

test_fail_when_a_sandbox_was_not_evaluated if {
	unevaluated := object.remove(sandbox("env-uat", "Contoso UAT", true, {}), {"results"})
	some result in denials_for("env-prod") with input as tenant_input([unevaluated])
	endswith(result.message, "\"Contoso UAT\" (not evaluated).")
	result.evidence.sandboxes[0].failing_critical == []
}

test_sandbox_types_come_from_policy_data if {
	dev := object.union(sandbox("env-dev", "Contoso Dev", true, all_passing), {"type": "Developer"})
	count(sandbox_first.deny) == 1 with input as tenant_input([dev])
	cfg := object.union(data.w365.config, {"sandbox_types": ["Sandbox", "Developer"]})
	count(sandbox_first.deny) == 0 with input as tenant_input([dev]) with data.w365.config as cfg
}

test_each_production_environment_gets_its_own_decision if {
	second := object.union(production_summary, {"id": "env-prod-2", "name": "Contoso Production 2"})
	inp := tenant_input([second])
	{d.environment_id | some d in sandbox_first.deny} == {"env-prod", "env-prod-2"} with input as inp
	some d in denials_for("env-prod-2") with input as inp
	contains(d.actions[0].steps[0], "or copy \"Contoso Production 2\" into one")
}

test_a_production_environment_is_not_its_own_sandbox if {
	both := object.union(production_summary, {"type": "Production"})
	cfg := object.union(data.w365.config, {"sandbox_types": ["Sandbox", "Production"]})
	inp := {"tenant": {"name": "Contoso", "id": "tenant-1", "environments": [both]}}
	count(denials_for("env-prod")) == 1 with input as inp with data.w365.config as cfg
}

test_not_applicable_for_a_sandbox_environment if {
	inp := tenant_input([sandbox("env-uat", "Contoso UAT", true, all_passing)])
	reasons_for("env-uat") == {"The environment type \"Sandbox\" is not production (policy data non_production_types)."} with input as inp
	count(denials_for("env-uat")) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	inp := tenant_input([object.union(production_summary, {"id": "env-mkt", "work365_installed": false})])
	reasons_for("env-mkt") == {"Work 365 is not installed."} with input as inp
	count(denials_for("env-mkt")) == 0 with input as inp
}

test_not_applicable_without_dataverse_or_when_skipped if {
	inp := tenant_input([
		{"id": "env-default", "name": "Default", "type": "Production", "has_dataverse": false, "status": "skipped", "skip_reason": "the environment has no Dataverse database"},
		{"id": "env-off", "name": "Off", "type": "Production", "has_dataverse": true, "status": "skipped", "skip_reason": "the environment is Disabled"},
	])
	reasons_for("env-default") == {"The environment has no Dataverse database."} with input as inp
	reasons_for("env-off") == {"the environment is Disabled"} with input as inp
}

test_quiet_on_a_collection_error if {
	broken := object.union(production_summary, {"status": "error"})
	inp := {"tenant": {"name": "Contoso", "id": "tenant-1", "environments": [broken]}}
	count(sandbox_first.deny) == 0 with input as inp
	count(sandbox_first.not_applicable) == 0 with input as inp
}

# A sandbox that was not read (a disabled environment) says why, not that Work 365 is missing.
test_fail_names_why_a_skipped_sandbox_does_not_qualify if {
	off := {
		"id": "env-off", "name": "Archive", "type": "Sandbox", "region": "unitedstates", "status": "skipped",
		"skip_reason": "the environment is disabled", "has_dataverse": true, "work365_installed": false, "work365_version": "",
		"results": {},
	}
	some d in denials_for("env-prod") with input as tenant_input([off])
	contains(d.message, `"Archive" (not read: the environment is disabled)`)
}

# The Default environment is a production environment (so says Microsoft), and so is a type this policy does
# not know: both need a passing sandbox.
test_fail_for_the_default_environment_and_unknown_types_without_a_sandbox if {
	for_default := object.union(production_summary, {"id": "env-default", "name": "Contoso (default)", "type": "Default"})
	for_unknown := object.union(production_summary, {"id": "env-x", "name": "Contoso X", "type": ""})
	inp := {"tenant": {"name": "Contoso", "id": "tenant-1", "environments": [for_default, for_unknown]}}
	count(denials_for("env-default")) == 1 with input as inp
	count(denials_for("env-x")) == 1 with input as inp
}
