package w365.appuser.enabled_test

import data.w365.appuser.enabled
import data.w365.lib.testing as t

test_pass_when_the_app_user_is_enabled if {
	count(enabled.deny) == 0 with input as t.compliant
	count(enabled.not_applicable) == 0 with input as t.compliant
}

test_fail_when_the_app_user_is_disabled if {
	off := t.shallow(t.app_user, {"is_disabled": true})
	inp := t.with_dv({"application_users": [off], "service_user": t.service_user_pointing_to(off)})
	enabled.deny == {{
		"message": "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is disabled; Work 365 cannot run its background operations under it.",
		"evidence": {
			"id": "user-app-us",
			"full_name": "# Work 365",
			"app_id": t.us_app_id,
			"geo": "US",
			"is_disabled": true,
			"deleted_state": 0,
		},
		"actions": [{"action": "enable_user", "user_id": "user-app-us", "app_id": t.us_app_id}],
	}} with input as inp
}

test_fail_when_the_app_user_is_soft_deleted if {
	gone := t.shallow(t.app_user, {"is_disabled": true, "deleted_state": 1})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(t.person)})
	some result in enabled.deny with input as inp
	result.message == "The Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is soft-deleted; it must be deleted permanently (a manual step) and created again."
	result.evidence.deleted_state == 1
	purge := result.actions[0]
	purge.action == "manual"
	purge.title == "Permanently delete the soft-deleted Work 365 application user"
	contains(purge.steps[0], "allow the deletion of disabled users (a preview feature; see https://learn.microsoft.com/power-platform/admin/delete-users)")
	contains(purge.steps[1], "Reassign the records the application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) still owns")
	array.slice(result.actions, 1, 6) == [
		{"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Portal Service"},
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	]
}

test_pass_when_a_soft_deleted_leftover_sits_beside_the_live_app_user if {
	gone := t.shallow(t.app_user, {"id": "user-app-us-old", "is_disabled": true, "deleted_state": 1})
	count(enabled.deny) == 0 with input as t.with_dv({"application_users": [gone, t.app_user]})
}

test_fail_checks_the_regions_app_user_not_the_other_regions_service_user if {
	off := t.shallow(t.app_user, {"is_disabled": true})
	inp := t.with_dv({"application_users": [off, t.eu_app_user], "service_user": t.service_user_pointing_to(t.eu_app_user)})
	some result in enabled.deny with input as inp
	result.evidence.id == "user-app-us"
}

test_fail_in_an_unmapped_region_checks_the_app_user_in_use if {
	gone := t.shallow(t.eu_app_user, {"is_disabled": true, "deleted_state": 1})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(gone)})
	env := t.shallow(inp.environment, {"region": "brazil"})
	some result in enabled.deny with input as {"environment": env}
	result.evidence.id == "user-app-eu"
	result.actions[1] == {"action": "create_app_user", "app_id": t.eu_app_id, "business_unit_id": "bu-root"}
}

test_not_applicable_without_an_app_user if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	enabled.not_applicable == {"No Work 365 application user exists (see W365.APPUSER.1)."} with input as inp
	count(enabled.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	enabled.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	enabled.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	count(enabled.deny) == 0 with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(enabled.deny) == 0 with input as t.collection_error
	count(enabled.not_applicable) == 0 with input as t.collection_error
}
