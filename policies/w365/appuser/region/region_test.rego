package w365.appuser.region_test

import data.w365.appuser.region
import data.w365.lib.testing as t

# in_europe moves an input to a European region.
in_europe(inp) := {"environment": t.shallow(inp.environment, {"region": "europe"})}

test_pass_when_the_us_environment_runs_on_the_us_app_id if {
	count(region.deny) == 0 with input as t.compliant
	count(region.not_applicable) == 0 with input as t.compliant
}

test_pass_when_the_eu_environment_runs_on_the_eu_app_id if {
	inp := in_europe(t.with_dv({"application_users": [t.eu_app_user], "service_user": t.service_user_pointing_to(t.eu_app_user)}))
	count(region.deny) == 0 with input as inp
}

test_fail_when_the_eu_environment_runs_on_the_us_app_id if {
	region.deny == {{
		"message": "The Work 365 application user in use, \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd), belongs to another data centre; region \"europe\" (EU) expects App ID 5e56ae97-9be1-40d3-938b-99ea52175a30. It is the configured Work 365 service user.",
		"evidence": {
			"app_id": t.us_app_id,
			"expected_app_id": t.eu_app_id,
			"region": "europe",
			"geo": "EU",
			"user_id": "user-app-us",
			"full_name": "# Work 365",
			"service_user": true,
		},
		"actions": [
			{"action": "create_app_user", "app_id": t.eu_app_id, "business_unit_id": "bu-root"},
			{"action": "assign_role", "app_id": t.eu_app_id, "role": "Work 365 Service"},
			{"action": "assign_role", "app_id": t.eu_app_id, "role": "Work 365 Portal Service"},
			{"action": "set_service_user", "app_id": t.eu_app_id},
			{"action": "clear_cache"},
		],
	}} with input as in_europe(t.compliant)
}

test_fail_omits_creation_when_the_regions_app_user_exists if {
	inp := in_europe(t.with_dv({"application_users": [t.app_user, t.eu_app_user]}))
	some result in region.deny with input as inp
	result.actions == [
		{"action": "assign_role", "app_id": t.eu_app_id, "role": "Work 365 Service"},
		{"action": "assign_role", "app_id": t.eu_app_id, "role": "Work 365 Portal Service"},
		{"action": "set_service_user", "app_id": t.eu_app_id},
		{"action": "clear_cache"},
	]
}

test_fail_when_the_us_environment_has_only_the_eu_app_user if {
	inp := t.with_dv({"application_users": [t.eu_app_user], "service_user": t.service_user_pointing_to(t.person)})
	some result in region.deny with input as inp
	result.message == "The Work 365 application user in use, \"# Work 365 EU\" (EU App ID 5e56ae97-9be1-40d3-938b-99ea52175a30), belongs to another data centre; region \"unitedstates\" (US) expects App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd."
	result.evidence.service_user == false
	result.actions[0] == {"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"}
}

test_fail_recreates_a_soft_deleted_regions_app_user if {
	gone := t.shallow(t.eu_app_user, {"deleted_state": 1, "is_disabled": true})
	inp := in_europe(t.with_dv({"application_users": [t.app_user, gone]}))
	some result in region.deny with input as inp
	result.actions[0].action == "manual"
	result.actions[0].title == "Permanently delete the soft-deleted Work 365 application user"
	result.actions[1] == {"action": "create_app_user", "app_id": t.eu_app_id, "business_unit_id": "bu-root"}
	count(result.actions) == 6
}

test_not_applicable_in_an_unmapped_region if {
	inp := t.with_env({"region": "brazil"})
	region.not_applicable == {"The environment's region \"brazil\" is not in the region map; add it under policy data regions (for example \"brazil\": \"US\") so the Work 365 App ID to expect is known."} with input as inp
	count(region.deny) == 0 with input as inp
}

test_not_applicable_without_an_app_user if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	region.not_applicable == {"No Work 365 application user exists (see W365.APPUSER.1)."} with input as inp
	count(region.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	region.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_not_applicable_when_skipped if {
	region.not_applicable == {"The environment is disabled."} with input as t.skipped
	count(region.deny) == 0 with input as t.skipped
}

test_quiet_on_a_collection_error if {
	count(region.deny) == 0 with input as t.collection_error
	count(region.not_applicable) == 0 with input as t.collection_error
}
