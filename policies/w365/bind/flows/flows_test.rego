package w365.bind.flows_test

import data.w365.bind.flows
import data.w365.lib.testing as t

disabled_owner := {
	"id": "user-bob",
	"name": "Bob Old",
	"domain_name": "bob@contoso.com",
	"is_disabled": true,
	"is_application": false,
	"holds_service_role": false,
}

retired_owner := {
	"id": "user-jane",
	"name": "Jane Doe",
	"domain_name": "jane@contoso.com",
	"is_disabled": false,
	"is_application": false,
	"holds_service_role": true,
}

app_owner := {
	"id": "user-app-us",
	"name": "# Work 365",
	"is_disabled": false,
	"is_application": true,
	"holds_service_role": true,
}

invoice_flow := {"id": "flow-1", "name": "Send invoices", "state": 1, "owner": retired_owner}

welcome_flow := {"id": "flow-2", "name": "Portal welcome", "state": 2, "owner": disabled_owner}

dataverse_ref := {
	"id": "ref-1",
	"logical_name": "w365_dataverse",
	"display_name": "Work 365 Dataverse",
	"connector_id": "/providers/Microsoft.PowerApps/apis/shared_commondataserviceforapps",
	"owner": disabled_owner,
}

test_pass_without_flagged_flows if {
	count(flows.deny) == 0 with input as t.compliant
	count(flows.not_applicable) == 0 with input as t.compliant
}

test_pass_when_the_application_user_owns_the_flows if {
	inp := t.with_dv({"flows": [t.shallow(invoice_flow, {"owner": app_owner})]})
	count(flows.deny) == 0 with input as inp
}

test_fail_lists_flows_and_connection_references_with_their_owners if {
	inp := t.with_dv({"flows": [invoice_flow, welcome_flow], "connection_references": [dataverse_ref]})
	flows.deny == {{
		"message": "2 cloud flow(s) and 1 connection reference(s) are owned by a disabled user or a retired human service account: cloud flow \"Portal welcome\" owned by \"Bob Old\" (bob@contoso.com; disabled), cloud flow \"Send invoices\" owned by \"Jane Doe\" (jane@contoso.com; human account holding a Work 365 role), connection reference \"Work 365 Dataverse\" (w365_dataverse) owned by \"Bob Old\" (bob@contoso.com; disabled).",
		"evidence": {
			"flows": [
				{"id": "flow-2", "name": "Portal welcome", "state": 2, "owner": object.union(disabled_owner, {"reasons": ["disabled"]})},
				{"id": "flow-1", "name": "Send invoices", "state": 1, "owner": object.union(retired_owner, {"reasons": ["human account holding a Work 365 role"]})},
			],
			"connection_references": [{
				"id": "ref-1",
				"logical_name": "w365_dataverse",
				"display_name": "Work 365 Dataverse",
				"connector_id": "/providers/Microsoft.PowerApps/apis/shared_commondataserviceforapps",
				"owner": object.union(disabled_owner, {"reasons": ["disabled"]}),
			}],
		},
		"actions": [{
			"action": "manual",
			"title": "Reassign the flows and connection references to the application user or a team",
			"steps": [
				"Open Power Apps (https://make.powerapps.com) and select the environment \"Contoso Production\".",
				"Open Solutions (or Cloud flows) → each of \"Portal welcome\", \"Send invoices\" → Edit details → Owner, and reassign it from its current owner to the Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) or a team; re-create its connections under an active account and turn it back on.",
				"Open Solutions → Connection references → each of \"Work 365 Dataverse\" (w365_dataverse) → Edit, pick a connection that belongs to an active account instead of the flagged owner's, and reassign the connection reference to the Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) or a team.",
			],
		}],
	}} with input as inp
}

test_fail_with_only_flows if {
	both := t.shallow(retired_owner, {"is_disabled": true, "domain_name": ""})
	inp := t.with_dv({"flows": [t.shallow(invoice_flow, {"owner": both})]})
	some result in flows.deny with input as inp
	result.message == "1 cloud flow(s) are owned by a disabled user or a retired human service account: cloud flow \"Send invoices\" owned by \"Jane Doe\" (disabled; human account holding a Work 365 role)."
	count(result.actions[0].steps) == 2
}

test_fail_with_only_connection_references if {
	ref := t.shallow(dataverse_ref, {"display_name": ""})
	inp := t.with_dv({"connection_references": [ref], "application_users": []})
	some result in flows.deny with input as inp
	result.message == "1 connection reference(s) are owned by a disabled user or a retired human service account: connection reference \"w365_dataverse\" owned by \"Bob Old\" (bob@contoso.com; disabled)."
	result.evidence.flows == []
	result.actions[0].steps[1] == "Open Solutions → Connection references → each of \"w365_dataverse\" → Edit, pick a connection that belongs to an active account instead of the flagged owner's, and reassign the connection reference to the Work 365 application user or a team."
}

test_not_applicable_when_work365_not_installed if {
	flows.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(flows.deny) == 0 with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	flows.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(flows.deny) == 0 with input as t.collection_error
	count(flows.not_applicable) == 0 with input as t.collection_error
}

test_quiet_when_lists_are_null if {
	count(flows.deny) == 0 with input as t.null_lists
}
