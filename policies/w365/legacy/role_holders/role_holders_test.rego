package w365.legacy.role_holders_test

import data.w365.legacy.role_holders
import data.w365.lib.testing as t

sales_service_role := t.shallow(t.service_role, {"id": "role-service-sales", "business_unit_id": "bu-sales"})

jane := t.shallow(t.person, {"roles": [t.service_role, t.portal_role]})

tom := {
	"id": "user-tom",
	"full_name": "Tom Admin",
	"domain_name": "tom@contoso.com",
	"access_mode": 0,
	"is_disabled": true,
	"is_licensed": false,
	"deleted_state": 0,
	"business_unit": t.sales_bu,
	"roles": [sales_service_role],
}

portal_only := t.shallow(t.person, {"id": "user-pat", "full_name": "Pat Portal", "domain_name": "pat@contoso.com", "roles": [t.portal_role]})

test_pass_when_no_person_holds_the_service_role if {
	count(role_holders.deny) == 0 with input as t.compliant
	count(role_holders.not_applicable) == 0 with input as t.compliant
}

test_pass_when_people_hold_only_the_portal_role if {
	count(role_holders.deny) == 0 with input as t.with_dv({"service_role_holders": [portal_only]})
}

test_fail_names_every_person_holding_the_service_role if {
	inp := t.with_dv({"service_role_holders": [tom, portal_only, jane]})
	role_holders.deny == {{
		"message": "2 person(s) still hold \"Work 365 Service\" although the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is the Work 365 service user: \"Jane Doe\" (jane@contoso.com), \"Tom Admin\" (tom@contoso.com).",
		"evidence": {
			"service_user_id": "user-app-us",
			"role": "Work 365 Service",
			"holders": [
				{
					"id": "user-jane",
					"full_name": "Jane Doe",
					"domain_name": "jane@contoso.com",
					"is_disabled": false,
					"is_licensed": true,
					"roles": [t.service_role],
				},
				{
					"id": "user-tom",
					"full_name": "Tom Admin",
					"domain_name": "tom@contoso.com",
					"is_disabled": true,
					"is_licensed": false,
					"roles": [sales_service_role],
				},
			],
		},
		"actions": [
			{
				"action": "manual",
				"title": "Remove the Work 365 Service role from people",
				"steps": [
					"In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → \"Contoso Production\" → Settings → Users + permissions → Users.",
					"For each of \"Jane Doe\", \"Tom Admin\" select Manage security roles, clear \"Work 365 Service\" and Save; keep the roles the person needs for their own work.",
					"If an account was a dedicated Work 365 service account, disable it and release its license.",
				],
			},
			{"action": "remove_role", "user_id": "user-jane", "role_id": "role-service-root", "role": "Work 365 Service", "opt_in": "fix-privileges"},
			{"action": "remove_role", "user_id": "user-tom", "role_id": "role-service-sales", "role": "Work 365 Service", "opt_in": "fix-privileges"},
		],
	}} with input as inp
}

test_fail_removes_every_copy_of_the_role if {
	twice := t.shallow(jane, {"roles": [sales_service_role, t.service_role]})
	some result in role_holders.deny with input as t.with_dv({"service_role_holders": [twice]})
	[a.role_id | some a in result.actions; a.action == "remove_role"] == ["role-service-root", "role-service-sales"]
}

test_application_users_among_holders_are_ignored if {
	count(role_holders.deny) == 0 with input as t.with_dv({"service_role_holders": [t.app_user]})
}

test_not_applicable_while_a_person_is_the_service_user if {
	inp := t.with_dv({"service_user": t.service_user_pointing_to(jane), "service_role_holders": [jane]})
	role_holders.not_applicable == {"The Work 365 service user is not yet a Work 365 application user, so the human service account still needs its role (see W365.SERVICE.1)."} with input as inp
	count(role_holders.deny) == 0 with input as inp
}

test_not_applicable_while_the_service_user_is_a_soft_deleted_app_user if {
	gone := t.shallow(t.app_user, {"deleted_state": 1})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(gone), "service_role_holders": [jane]})
	count(role_holders.not_applicable) == 1 with input as inp
	count(role_holders.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	role_holders.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_quiet_on_a_collection_error if {
	count(role_holders.deny) == 0 with input as t.collection_error
	count(role_holders.not_applicable) == 0 with input as t.collection_error
}

# People who hold Work 365 Service through a team are found too; their role is taken away by a person, not by a
# removal from the user (which would not remove it).
test_fail_names_people_holding_the_role_through_a_team if {
	pat := t.shallow(t.person, {"id": "user-pat", "full_name": "Pat Ops", "domain_name": "pat@contoso.com", "roles": [t.via(t.service_role, t.ops_team)]})
	some result in role_holders.deny with input as t.with_dv({"service_role_holders": [pat, jane]})
	result.message == "2 person(s) still hold \"Work 365 Service\" although the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is the Work 365 service user: \"Jane Doe\" (jane@contoso.com), \"Pat Ops\" (pat@contoso.com) (through team \"Work 365 Operators\")."
	result.evidence.holders[1].roles == [object.union(t.service_role, {"team": t.ops_team})]
	[a.action | some a in result.actions] == ["manual", "remove_role", "manual"]
	result.actions[1].user_id == "user-jane"
	result.actions[2].title == "Take away the roles \"Pat Ops\" (pat@contoso.com) holds through teams"
}

# A non-interactive person (access mode 4, no application ID) is a person.
test_fail_when_a_non_interactive_person_holds_the_service_role if {
	robot := t.shallow(t.person, {"id": "user-robot", "full_name": "Billing Robot", "domain_name": "billing@contoso.com", "access_mode": 4})
	some result in role_holders.deny with input as t.with_dv({"service_role_holders": [robot]})
	startswith(result.message, "1 person(s) still hold")
}
