package w365.roles.least_privilege_test

import data.w365.lib.testing as t
import data.w365.roles.least_privilege

with_roles(roles) := t.with_dv({"application_users": [t.shallow(t.app_user, {"roles": roles})]})

test_pass_when_only_the_work365_roles_are_held if {
	count(least_privilege.deny) == 0 with input as t.compliant
	count(least_privilege.not_applicable) == 0 with input as t.compliant
}

test_pass_when_no_role_is_held if {
	count(least_privilege.deny) == 0 with input as with_roles([])
}

test_fail_names_system_administrator_first if {
	inp := with_roles([t.basic_role, t.portal_role, t.service_role, t.sysadmin_role])
	least_privilege.deny == {{
		"message": "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds 2 role(s) beyond \"Work 365 Service\" and \"Work 365 Portal Service\": \"System Administrator\" (full control of the environment), \"Basic User\".",
		"evidence": {
			"user_id": "user-app-us",
			"full_name": "# Work 365",
			"app_id": t.us_app_id,
			"system_administrator": true,
			"extra_roles": [
				{"id": "role-basic-root", "name": "Basic User", "business_unit_id": "bu-root"},
				{"id": "role-sysadmin-root", "name": "System Administrator", "business_unit_id": "bu-root"},
			],
		},
		"actions": [
			{"action": "remove_role", "user_id": "user-app-us", "role_id": "role-sysadmin-root", "role": "System Administrator", "opt_in": "fix-privileges"},
			{"action": "remove_role", "user_id": "user-app-us", "role_id": "role-basic-root", "role": "Basic User", "opt_in": "fix-privileges"},
		],
	}} with input as inp
}

test_fail_without_system_administrator if {
	some result in least_privilege.deny with input as with_roles([t.service_role, t.basic_role])
	result.message == "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds 1 role(s) beyond \"Work 365 Service\" and \"Work 365 Portal Service\": \"Basic User\"."
	result.evidence.system_administrator == false
}

test_not_applicable_without_an_app_user if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	least_privilege.not_applicable == {"No Work 365 application user exists (see W365.APPUSER.1)."} with input as inp
	count(least_privilege.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	least_privilege.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_quiet_on_a_collection_error if {
	count(least_privilege.deny) == 0 with input as t.collection_error
	count(least_privilege.not_applicable) == 0 with input as t.collection_error
}

# An extra role held through a team counts; audit fix removes direct roles only, and the team's is a manual step.
test_fail_names_the_team_of_an_extra_role_and_leaves_its_removal_to_a_person if {
	roles := [t.portal_role, t.service_role, t.basic_role, t.via(t.sysadmin_role, t.ops_team)]
	some result in least_privilege.deny with input as t.with_dv({"application_users": [t.shallow(t.app_user, {"roles": roles})]})
	result.message == "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds 2 role(s) beyond \"Work 365 Service\" and \"Work 365 Portal Service\": \"System Administrator\" (full control of the environment) through team \"Work 365 Operators\", \"Basic User\"."
	result.evidence.system_administrator == true
	result.evidence.extra_roles == [
		t.basic_role,
		object.union(t.sysadmin_role, {"team": t.ops_team}),
	]
	result.actions[0] == {
		"action": "remove_role", "user_id": "user-app-us", "role_id": "role-basic-root",
		"role": "Basic User", "opt_in": "fix-privileges",
	}
	result.actions[1].action == "manual"
	result.actions[1].title == "Take away the roles \"# Work 365\" (App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds through teams"
	contains(result.actions[1].steps[1], "\"System Administrator\" (team \"Work 365 Operators\")")
	count(result.actions) == 2
}
