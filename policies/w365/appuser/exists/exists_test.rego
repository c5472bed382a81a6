package w365.appuser.exists_test

import data.w365.appuser.exists
import data.w365.lib.testing as t

test_pass_when_the_regions_app_user_exists if {
	count(exists.deny) == 0 with input as t.compliant
	count(exists.not_applicable) == 0 with input as t.compliant
}

test_pass_when_the_regions_app_user_is_soft_deleted if {
	gone := t.shallow(t.app_user, {"deleted_state": 1})
	count(exists.deny) == 0 with input as t.with_dv({"application_users": [gone]})
}

test_fail_when_no_app_user_exists if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	exists.deny == {{
		"message": "No application user exists for the Work 365 App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd of the US data centre (region \"unitedstates\").",
		"evidence": {
			"region": "unitedstates",
			"geo": "US",
			"expected_app_id": t.us_app_id,
			"application_users": [],
		},
		"actions": [
			{"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"},
			{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"},
			{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Portal Service"},
			{"action": "set_service_user", "app_id": t.us_app_id},
			{"action": "clear_cache"},
		],
	}} with input as inp
}

test_fail_when_only_the_other_regions_app_user_exists if {
	inp := t.with_dv({"application_users": [t.eu_app_user], "service_user": t.service_user_pointing_to(t.eu_app_user)})
	some result in exists.deny with input as inp
	result.message == "No application user exists for the Work 365 App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd of the US data centre (region \"unitedstates\"). Work 365 application users of other data centres: \"# Work 365 EU\" (EU App ID 5e56ae97-9be1-40d3-938b-99ea52175a30)."
	result.evidence.application_users == [{
		"id": "user-app-eu",
		"full_name": "# Work 365 EU",
		"app_id": t.eu_app_id,
		"geo": "EU",
		"is_disabled": false,
		"deleted_state": 0,
	}]
}

test_fail_for_an_eu_environment_uses_the_eu_app_id if {
	inp := t.shallow(t.with_dv({"application_users": [t.app_user]}).environment, {"region": "europe"})
	some result in exists.deny with input as {"environment": inp}
	result.evidence.expected_app_id == t.eu_app_id
	result.actions[0] == {"action": "create_app_user", "app_id": t.eu_app_id, "business_unit_id": "bu-root"}
}

test_pass_in_an_unmapped_region_when_any_work365_app_user_exists if {
	count(exists.deny) == 0 with input as t.with_env({"region": "brazil"})
}

test_fail_in_an_unmapped_region_without_app_users if {
	env := t.shallow(t.with_dv({"application_users": [], "service_user": {"configured": false}}).environment, {"region": "brazil"})
	some result in exists.deny with input as {"environment": env}
	result.message == "The environment's region \"brazil\" is not in the region map; add it under policy data regions (for example \"brazil\": \"US\") so the Work 365 App ID to expect is known. No application user exists for any Work 365 App ID (EU 5e56ae97-9be1-40d3-938b-99ea52175a30, US e4b1a995-abe3-4350-a61c-65fccd32e8bd)."
	result.evidence == {"region": "brazil", "app_ids": [t.eu_app_id, t.us_app_id], "application_users": []}
	result.actions[0].action == "manual"
	result.actions[0].title == "Map the environment's region to a Work 365 App ID"
	count(result.actions[0].steps) == 4
}

test_fail_without_error_when_lists_are_null if {
	some result in exists.deny with input as t.null_lists
	result.evidence.application_users == []
}

test_not_applicable_when_work365_not_installed if {
	exists.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(exists.deny) == 0 with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	exists.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	count(exists.deny) == 0 with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(exists.deny) == 0 with input as t.collection_error
	count(exists.not_applicable) == 0 with input as t.collection_error
}
