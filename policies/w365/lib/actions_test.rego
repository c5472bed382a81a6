package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

test_switch_needs_only_set_and_clear_when_the_app_user_is_usable if {
	lib.switch_service_user_actions == [
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	] with input as t.compliant
}

test_switch_enables_a_disabled_app_user_first if {
	off := t.shallow(t.app_user, {"is_disabled": true})
	inp := t.with_dv({"application_users": [off], "service_user": t.service_user_pointing_to(t.person)})
	lib.switch_service_user_actions == [
		{"action": "enable_user", "user_id": "user-app-us", "app_id": t.us_app_id},
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	] with input as inp
}

test_switch_creates_the_app_user_when_none_exists if {
	inp := t.with_dv({"application_users": [], "service_user": t.service_user_pointing_to(t.person)})
	lib.switch_service_user_actions == [
		{"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Service"},
		{"action": "assign_role", "app_id": t.us_app_id, "role": "Work 365 Portal Service"},
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	] with input as inp
}

test_switch_asks_a_person_to_purge_a_soft_deleted_leftover_before_creating if {
	gone := t.shallow(t.app_user, {"deleted_state": 1, "is_disabled": true})
	inp := t.with_dv({"application_users": [gone], "service_user": t.service_user_pointing_to(t.person)})
	actions := lib.switch_service_user_actions with input as inp
	actions[0].action == "manual"
	actions[0].title == "Permanently delete the soft-deleted Work 365 application user"
	actions[1] == {"action": "create_app_user", "app_id": t.us_app_id, "business_unit_id": "bu-root"}
	count(actions) == 6
}

test_create_omits_the_business_unit_when_it_was_not_read if {
	inp := {"environment": t.shallow(t.environment, {"dataverse": object.remove(t.dataverse, {"root_business_unit"})})}
	lib._action_create_app_user(t.us_app_id) == {"action": "create_app_user", "app_id": t.us_app_id} with input as inp
}

test_switch_uses_the_existing_app_user_in_an_unmapped_region if {
	inp := t.with_env({"region": "brazil"})
	lib.switch_service_user_actions == [
		{"action": "set_service_user", "app_id": t.us_app_id},
		{"action": "clear_cache"},
	] with input as inp
}

test_switch_is_manual_in_an_unmapped_region_without_app_user if {
	inp := t.shallow(t.with_dv({"application_users": [], "service_user": {"configured": false}}).environment, {"region": "brazil"})
	actions := lib.switch_service_user_actions with input as {"environment": inp}
	count(actions) == 1
	actions[0].action == "manual"
	actions[0].title == "Map the environment's region to a Work 365 App ID"
	startswith(actions[0].steps[0], "Add the region \"brazil\" under policy data regions")
	contains(actions[0].steps[1], "Environments → \"Contoso Production\" → Settings")
}
