package w365.service.active_test

import data.w365.lib.testing as t
import data.w365.service.active

test_pass_when_the_service_user_is_active if {
	count(active.deny) == 0 with input as t.compliant
	count(active.not_applicable) == 0 with input as t.compliant
}

test_fail_enables_a_disabled_app_user_first if {
	off := t.shallow(t.app_user, {"is_disabled": true})
	inp := t.with_dv({"application_users": [off], "service_user": t.service_user_pointing_to(off)})
	active.deny == {{
		"message": "The Work 365 service user \"# Work 365\" (App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is disabled; Work 365 background jobs stop while it is.",
		"evidence": {
			"configured": true,
			"setting_id": "setting-1",
			"user_id": "user-app-us",
			"user": {
				"id": "user-app-us",
				"full_name": "# Work 365",
				"domain_name": "",
				"app_id": t.us_app_id,
				"is_application": true,
				"is_licensed": false,
				"is_disabled": true,
				"deleted_state": 0,
			},
		},
		"actions": [
			{"action": "enable_user", "user_id": "user-app-us", "app_id": t.us_app_id},
			{"action": "set_service_user", "app_id": t.us_app_id},
			{"action": "clear_cache"},
		],
	}} with input as inp
}

test_fail_switches_away_from_a_disabled_person if {
	inp := t.with_dv({"service_user": t.service_user_pointing_to(t.shallow(t.person, {"is_disabled": true}))})
	some result in active.deny with input as inp
	result.message == "The Work 365 service user \"Jane Doe\" (jane@contoso.com) is disabled; Work 365 background jobs stop while it is."
	result.actions == [
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	]
}

test_fail_when_the_service_user_points_to_a_missing_user if {
	inp := t.with_dv({"service_user": {"configured": true, "setting_id": "setting-1", "user_id": "user-gone"}})
	some result in active.deny with input as inp
	result.message == "The Work 365 service-user setting points to user id user-gone, which does not exist; Work 365 background jobs cannot run."
	result.evidence == {"configured": true, "setting_id": "setting-1", "user_id": "user-gone", "user": null}
	result.actions == [
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	]
}

test_fail_when_the_service_user_is_soft_deleted if {
	gone := t.shallow(t.app_user, {"deleted_state": 1, "is_disabled": true})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(gone)})
	some result in active.deny with input as inp
	result.message == "The Work 365 service user \"# Work 365\" (App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) is soft-deleted; Work 365 background jobs cannot run under it."
	result.actions[0].action == "manual"
	count(result.actions) == 6
}

test_not_applicable_when_the_setting_is_not_configured if {
	inp := t.with_dv({"service_user": {"configured": false}})
	active.not_applicable == {"The Work 365 service-user setting is not configured (see W365.SERVICE.1)."} with input as inp
	count(active.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	active.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	active.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(active.deny) == 0 with input as t.collection_error
	count(active.not_applicable) == 0 with input as t.collection_error
}

test_quiet_when_lists_are_null if {
	count(active.deny) == 0 with input as t.null_lists
}
