package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

test_app_user_is_the_service_user_when_it_is_an_application_user if {
	inp := t.with_dv({
		"application_users": [t.app_user, t.eu_app_user],
		"service_user": t.service_user_pointing_to(t.eu_app_user),
	})
	lib.app_user.id == "user-app-eu" with input as inp
	lib.service_user_is_app_user with input as inp
}

test_app_user_is_the_regions_one_when_the_service_user_is_a_person if {
	inp := t.with_dv({
		"application_users": [t.eu_app_user, t.app_user],
		"service_user": t.service_user_pointing_to(t.person),
	})
	lib.app_user.id == "user-app-us" with input as inp
	not lib.service_user_is_app_user with input as inp
}

test_app_user_falls_back_to_another_regions_user if {
	inp := t.with_dv({"application_users": [t.eu_app_user], "service_user": {"configured": false}})
	lib.app_user.id == "user-app-eu" with input as inp
}

test_app_user_prefers_a_live_user_over_a_soft_deleted_one if {
	gone := t.shallow(t.app_user, {"id": "user-app-us-old", "deleted_state": 1})
	inp := t.with_dv({"application_users": [gone, t.eu_app_user], "service_user": {"configured": false}})
	lib.app_user.id == "user-app-eu" with input as inp
	lib.expected_app_user.id == "user-app-us-old" with input as inp
}

test_app_user_is_a_soft_deleted_leftover_when_nothing_else_exists if {
	gone := t.shallow(t.app_user, {"deleted_state": 1})
	inp := t.with_dv({"application_users": [gone], "service_user": {"configured": false}})
	lib.app_user.id == "user-app-us" with input as inp
}

test_app_user_is_undefined_without_application_users if {
	not lib.app_user with input as t.null_lists
	not lib.app_user with input as t.with_dv({"application_users": [], "service_user": {"configured": false}})
}

test_application_users_of_other_apps_are_ignored if {
	other := t.shallow(t.app_user, {"id": "user-other", "application_id": "11111111-2222-3333-4444-555555555555"})
	inp := t.with_dv({"application_users": [other], "service_user": t.service_user_pointing_to(other)})
	not lib.app_user with input as inp
}

test_first_by_id_is_stable if {
	lib._first_by_id([{"id": "b"}, {"id": "a"}, {"id": "c"}]) == {"id": "a"}
	not lib._first_by_id([])
}

test_service_user_missing_when_its_user_does_not_exist if {
	inp := t.with_dv({"service_user": {"configured": true, "setting_id": "setting-1", "user_id": "user-gone"}})
	lib.service_user_missing with input as inp
	lib.service_user_id == "user-gone" with input as inp
	not lib.service_user_missing with input as t.compliant
}

test_is_application_by_app_id_only if {
	lib.is_application(t.app_user)
	not lib.is_application(t.person)

	# Microsoft gives people non-interactive access (mode 4) too: without an application ID it is a person.
	not lib.is_application(t.shallow(t.person, {"access_mode": 4}))
}

test_user_label_names_people_and_applications if {
	lib.user_label(t.person) == "\"Jane Doe\" (jane@contoso.com)"
	lib.user_label(t.app_user) == sprintf("\"# Work 365\" (App ID %s)", [t.us_app_id])
	lib.user_label({"id": "u1", "full_name": "Service", "domain_name": ""}) == "\"Service\""
	lib.user_label({"id": "u1"}) == "\"u1\""
}
