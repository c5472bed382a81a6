package w365.service.app_user_test

import data.w365.lib.testing as t
import data.w365.service.app_user

pointing_to(user) := t.with_dv({"service_user": t.service_user_pointing_to(user)})

switch_to_us := [
	{"action": "set_service_user", "app_id": t.us_app_id},
	{"action": "clear_cache"},
]

test_pass_when_the_service_user_is_the_regions_app_user if {
	count(app_user.deny) == 0 with input as t.compliant
	count(app_user.not_applicable) == 0 with input as t.compliant
}

test_fail_when_the_setting_is_not_configured if {
	app_user.deny == {{
		"message": "The Work 365 service-user setting is not configured, so Work 365 has no service identity to run under. Point it at the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd).",
		"evidence": {
			"configured": false,
			"setting_id": "",
			"user_id": "",
			"user": null,
			"expected_app_id": t.us_app_id,
		},
		"actions": switch_to_us,
	}} with input as t.with_dv({"service_user": {"configured": false}})
}

test_fail_when_the_setting_points_to_a_missing_user if {
	inp := t.with_dv({"service_user": {"configured": true, "setting_id": "setting-1", "user_id": "user-gone"}})
	some result in app_user.deny with input as inp
	result.message == "The Work 365 service-user setting points to user id user-gone, which does not exist. Point it at the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd)."
	result.evidence.user_id == "user-gone"
	result.evidence.user == null
	result.actions == switch_to_us
}

test_fail_when_the_setting_has_no_user_id if {
	inp := t.with_dv({"service_user": {"configured": true, "setting_id": "setting-1"}})
	some result in app_user.deny with input as inp
	startswith(result.message, "The Work 365 service-user setting points to a user, which does not exist.")
}

test_fail_when_the_service_user_is_a_person if {
	some result in app_user.deny with input as pointing_to(t.person)
	result.message == "The Work 365 service user is \"Jane Doe\" (jane@contoso.com), a person, not the Work 365 application user. Point it at the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd)."
	result.evidence.user == {
		"id": "user-jane",
		"full_name": "Jane Doe",
		"domain_name": "jane@contoso.com",
		"app_id": "",
		"is_application": false,
		"is_licensed": true,
		"is_disabled": false,
		"deleted_state": 0,
	}
	result.actions == switch_to_us
}

test_fail_when_the_service_user_is_the_other_regions_app_user if {
	inp := t.with_dv({"application_users": [t.app_user, t.eu_app_user], "service_user": t.service_user_pointing_to(t.eu_app_user)})
	some result in app_user.deny with input as inp
	result.message == "The Work 365 service user is the application user \"# Work 365 EU\" (EU App ID 5e56ae97-9be1-40d3-938b-99ea52175a30); region \"unitedstates\" (US) expects App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd. Point it at the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd)."
	result.actions == switch_to_us
}

test_fail_creates_the_app_user_first_when_none_exists if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	some result in app_user.deny with input as inp
	endswith(result.message, " Point it at a new application user for App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd.")
	result.actions == [
		{"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Portal Service"},
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	]
}

test_fail_when_the_service_user_is_a_soft_deleted_app_user if {
	gone := t.shallow(t.app_user, {"deleted_state": 1, "is_disabled": true})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(gone)})
	some result in app_user.deny with input as inp
	startswith(result.message, "The Work 365 service user is the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd), which is soft-deleted.")
	result.actions[0].action == "manual"
}

test_fail_when_the_service_user_is_another_apps_application_user if {
	other := t.shallow(t.app_user, {"id": "user-other", "full_name": "Integration", "application_id": "11111111-2222-3333-4444-555555555555"})
	some result in app_user.deny with input as pointing_to(other)
	startswith(result.message, "The Work 365 service user is the application user \"Integration\" (App ID 11111111-2222-3333-4444-555555555555), which is not a Work 365 application.")
}

test_pass_in_an_unmapped_region_on_any_work365_app_id if {
	inp := t.with_dv({"application_users": [t.eu_app_user], "service_user": t.service_user_pointing_to(t.eu_app_user)})
	env := t.shallow(inp.environment, {"region": "brazil"})
	count(app_user.deny) == 0 with input as {"environment": env}
}

test_fail_in_an_unmapped_region_without_app_user_asks_for_the_region if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	env := t.shallow(inp.environment, {"region": "brazil"})
	some result in app_user.deny with input as {"environment": env}
	result.message == "The Work 365 service user is \"Jane Doe\" (jane@contoso.com), a person, not the Work 365 application user. The environment's region \"brazil\" is not in the region map; add it under policy data regions (for example \"brazil\": \"US\") so the Work 365 App ID to expect is known."
	result.evidence.expected_app_id == null
	result.actions[0].action == "manual"
}

test_not_applicable_when_work365_not_installed if {
	app_user.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(app_user.deny) == 0 with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	app_user.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(app_user.deny) == 0 with input as t.collection_error
	count(app_user.not_applicable) == 0 with input as t.collection_error
}
