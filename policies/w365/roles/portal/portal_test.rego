package w365.roles.portal_test

import data.w365.lib.testing as t
import data.w365.roles.portal

with_roles(roles) := t.with_dv({"application_users": [t.shallow(t.app_user, {"roles": roles})]})

test_pass_when_both_roles_held if {
	count(portal.deny) == 0 with input as t.compliant
	count(portal.not_applicable) == 0 with input as t.compliant
}

test_fail_when_portal_role_missing if {
	portal.deny == {{
		"message": "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) does not hold the security role \"Work 365 Portal Service\".",
		"evidence": {
			"user_id": "user-app-us",
			"full_name": "# Work 365",
			"app_id": t.us_app_id,
			"role": "Work 365 Portal Service",
			"roles": ["System Administrator", "Work 365 Service"],
		},
		"actions": [{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Portal Service"}],
	}} with input as with_roles([t.sysadmin_role, t.service_role])
}

test_fail_checks_the_service_user_when_it_is_an_app_user if {
	eu_without_roles := t.shallow(t.eu_app_user, {"roles": []})
	inp := t.with_dv({"application_users": [t.app_user, eu_without_roles], "service_user": t.service_user_pointing_to(eu_without_roles)})
	some result in portal.deny with input as inp
	result.evidence.user_id == "user-app-eu"
	result.actions == [{"action": "assign_role", "app_id": t.eu_app_id, "role": "Work 365 Portal Service"}]
}

test_not_applicable_without_an_app_user if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	portal.not_applicable == {"No Work 365 application user exists (see W365.APPUSER.1)."} with input as inp
	count(portal.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	portal.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_not_applicable_when_skipped if {
	portal.not_applicable == {"The environment is disabled."} with input as t.skipped
}

test_quiet_on_a_collection_error if {
	count(portal.deny) == 0 with input as t.collection_error
	count(portal.not_applicable) == 0 with input as t.collection_error
}

test_pass_when_the_portal_role_comes_through_a_team if {
	inp := t.with_dv({"application_users": [t.shallow(t.app_user, {"roles": [t.service_role, t.via(t.portal_role, t.ops_team)]})]})
	count(portal.deny) == 0 with input as inp
	some info in portal.pass_info with input as inp
	info.message == "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds \"Work 365 Portal Service\" through team \"Work 365 Operators\"."
	info.evidence.teams == [t.ops_team]
}
