package w365.gov.sandbox_first_test

import data.w365.gov.sandbox_first
import data.w365.lib.testing as t

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
	"id": id,
	"name": name,
	"type": "Sandbox",
	"region": "unitedstates",
	"status": "ok",
	"work365_installed": installed,
	"work365_version": "3.5.2.0",
	"results": res,
}

tenant_input(summaries) := object.union(t.compliant, {"tenant": {
	"name": "Contoso",
	"id": "tenant-1",
	"environments": array.concat([production_summary], summaries),
}})

test_pass_with_a_sandbox_passing_its_critical_rules if {
	inp := tenant_input([sandbox("env-uat", "Contoso UAT", true, all_passing)])
	count(sandbox_first.deny) == 0 with input as inp
	count(sandbox_first.not_applicable) == 0 with input as inp
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

test_fail_without_any_sandbox if {
	inp := tenant_input([])
	sandbox_first.deny == {{
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
	some result in sandbox_first.deny with input as inp
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
	some result in sandbox_first.deny with input as tenant_input([unevaluated])
	endswith(result.message, "\"Contoso UAT\" (not evaluated).")
	result.evidence.sandboxes[0].failing_critical == []
}

test_sandbox_types_come_from_policy_data if {
	dev := object.union(sandbox("env-dev", "Contoso Dev", true, all_passing), {"type": "Developer"})
	count(sandbox_first.deny) == 1 with input as tenant_input([dev])
	cfg := object.union(data.w365.config, {"sandbox_types": ["Sandbox", "Developer"]})
	count(sandbox_first.deny) == 0 with input as tenant_input([dev]) with data.w365.config as cfg
}

test_quiet_in_the_environment_phase if {
	inp := object.union(t.compliant, {"tenant": {
		"name": "Contoso",
		"id": "tenant-1",
		"environments": [object.remove(production_summary, {"results"})],
	}})
	count(sandbox_first.deny) == 0 with input as inp
	count(sandbox_first.deny) == 0 with input as t.compliant
}

test_not_applicable_for_a_sandbox_environment if {
	inp := object.union(tenant_input([]), {"environment": {"id": "env-uat", "name": "Contoso UAT", "type": "Sandbox"}})
	sandbox_first.not_applicable == {"The environment type \"Sandbox\" is not a production type (policy data production_types)."} with input as inp
	count(sandbox_first.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	inp := object.union(t.not_installed, {"tenant": tenant_input([]).tenant})
	sandbox_first.not_applicable == {"Work 365 is not installed."} with input as inp
	count(sandbox_first.deny) == 0 with input as inp
}

test_quiet_on_a_collection_error if {
	inp := object.union(t.collection_error, {"tenant": tenant_input([]).tenant})
	count(sandbox_first.deny) == 0 with input as inp
	count(sandbox_first.not_applicable) == 0 with input as inp
}
