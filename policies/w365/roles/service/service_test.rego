package w365.roles.service_test

import data.w365.lib.testing as t
import data.w365.roles.service

with_roles(roles) := t.with_dv({"application_users": [t.shallow(t.app_user, {"roles": roles})]})

test_pass_when_both_roles_held if {
	count(service.deny) == 0 with input as t.compliant
	count(service.not_applicable) == 0 with input as t.compliant
}

test_fail_when_service_role_missing if {
	service.deny == {{
		"message": "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) does not hold the security role \"Work 365 Service\".",
		"evidence": {
			"user_id": "user-app-us",
			"full_name": "# Work 365",
			"app_id": t.us_app_id,
			"role": "Work 365 Service",
			"business_unit": t.root_bu,
			"held_from_business_units": [],
		},
		"actions": [{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"}],
	}} with input as with_roles([t.portal_role])
}

test_fail_when_service_role_held_only_from_another_business_unit if {
	sales_copy := t.shallow(t.service_role, {"id": "role-service-sales", "business_unit_id": "bu-sales"})
	some result in service.deny with input as with_roles([t.portal_role, sales_copy])
	result.message == "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds \"Work 365 Service\" only from business unit \"bu-sales\", not from its own business unit \"contoso\" (bu-root); assign the role of its own business unit."
	result.evidence.held_from_business_units == ["bu-sales"]
	result.actions == [{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"}]
}

test_pass_when_held_from_own_and_another_business_unit if {
	sales_copy := t.shallow(t.service_role, {"id": "role-service-sales", "business_unit_id": "bu-sales"})
	count(service.deny) == 0 with input as with_roles([sales_copy, t.service_role])
}

test_fail_when_roles_are_null if {
	some result in service.deny with input as with_roles(null)
	result.evidence.role == "Work 365 Service"
}

test_role_name_comes_from_policy_data if {
	cfg := object.union(data.w365.config, {"roles": {"service": "W365 Service"}})
	some result in service.deny with input as t.compliant with data.w365.config as cfg
	result.actions == [{"action": "assign_role", "app_id": t.us_app_id, "role": "W365 Service"}]
}

test_not_applicable_without_an_app_user if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	service.not_applicable == {"No Work 365 application user exists (see W365.APPUSER.1)."} with input as inp
	count(service.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	service.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	service.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	count(service.deny) == 0 with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(service.deny) == 0 with input as t.collection_error
	count(service.not_applicable) == 0 with input as t.collection_error
}

# A role held through a team the application user is a member of counts, and the result says which team.
test_pass_when_the_role_comes_through_a_team if {
	inp := with_roles([t.portal_role, t.via(t.service_role, t.ops_team)])
	count(service.deny) == 0 with input as inp
	service.pass_info == {{
		"message": "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) holds \"Work 365 Service\" through team \"Work 365 Operators\".",
		"evidence": {"user_id": "user-app-us", "app_id": t.us_app_id, "role": "Work 365 Service", "teams": [t.ops_team]},
	}} with input as inp
}

test_no_pass_info_when_the_role_is_held_directly if {
	count(service.pass_info) == 0 with input as t.compliant
	count(service.pass_info) == 0 with input as with_roles([t.portal_role, t.service_role, t.via(t.service_role, t.ops_team)])
}

# A team's copy of the role from another business unit grants nothing in the user's own.
test_fail_when_a_team_holds_the_role_only_from_another_business_unit if {
	sales_copy := t.shallow(t.service_role, {"id": "role-service-sales", "business_unit_id": "bu-sales"})
	some result in service.deny with input as with_roles([t.portal_role, t.via(sales_copy, t.ops_team)])
	result.evidence.held_from_business_units == ["bu-sales"]
}
