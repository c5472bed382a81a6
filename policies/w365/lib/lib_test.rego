package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

# ---------------------------------------------------------------------------------------
# Versions

test_version_with_more_components_is_at_least_the_minimum if {
	lib.version_at_least("3.5.0.0", "3.5")
	lib.version_at_least("3.5", "3.5.0.0")
}

test_version_components_compare_as_numbers if {
	lib.version_at_least("3.10", "3.5")
	lib.version_at_least("3.10.0.0", "3.5")
	not lib.version_at_least("3.5", "3.10")
}

test_older_versions_are_below_the_minimum if {
	not lib.version_at_least("3.4.9.9", "3.5")
	not lib.version_at_least("2.99", "3.5")
	not lib.version_at_least("3", "3.5")
}

test_newer_major_version_is_at_least_the_minimum if {
	lib.version_at_least("4.0", "3.5")
	lib.version_at_least(" 3.6.1.0 ", "3.5")
}

test_unparsable_versions_are_never_at_least_the_minimum if {
	not lib.version_at_least("", "3.5")
	not lib.version_at_least("3.5-beta", "3.5")
	not lib.version_at_least("v3.5", "3.5")
	not lib.version_at_least(null, "3.5")
	not lib.version_at_least("3.5", "latest")
}

test_version_numbers_parse_dotted_versions if {
	lib.version_numbers("3.05.1.0") == [3, 5, 1, 0]
	lib.version_numbers(" 10.0.100.0 ") == [10, 0, 100, 0]
	lib.version_numbers("0.0") == [0, 0]
}

test_version_keys_drop_trailing_zero_components if {
	lib.version_key("3.5.0.0") == [3, 5]
	lib.version_key("3.05.10.00") == [3, 5, 10]
	lib.version_key(" 3.0.1.0 ") == [3, 0, 1]
	lib.version_key("0.0") == [0]
	lib.version_key("100") == [100]
}

test_zero_components_compare_as_numbers if {
	lib.version_at_least("3.5.0.1", "3.5")
	lib.version_at_least("3.0", "3")
	lib.version_at_least("3", "3.0.0")
	not lib.version_at_least("3.0.0", "3.0.1")
	lib.version_at_least("0.0", "0")
}

# ---------------------------------------------------------------------------------------
# Applicability

test_compliant_environment_is_applicable if {
	lib.applicable with input as t.compliant
	count(lib.base_not_applicable) == 0 with input as t.compliant
}

test_not_applicable_without_dataverse if {
	lib.base_not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	not lib.applicable with input as t.no_dataverse
}

test_not_applicable_with_the_skip_reason_when_skipped if {
	lib.base_not_applicable == {"The environment is disabled."} with input as t.skipped
}

test_skipped_without_reason_gets_a_generic_reason if {
	inp := {"environment": object.remove(t.skipped.environment, {"skip_reason"})}
	lib.base_not_applicable == {"The environment was skipped during collection."} with input as inp
}

test_not_applicable_when_work365_not_installed if {
	lib.base_not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_collection_error_is_neither_applicable_nor_not_applicable if {
	count(lib.base_not_applicable) == 0 with input as t.collection_error
	not lib.applicable with input as t.collection_error
	not lib.dataverse_read with input as t.collection_error
}

# ---------------------------------------------------------------------------------------
# Regions

test_region_maps_to_geo_and_app_id if {
	lib.geo == "EU" with input as t.with_env({"region": "europe"})
	lib.expected_app_id == t.eu_app_id with input as t.with_env({"region": "europe"})
	lib.expected_app_id == t.us_app_id with input as t.compliant
}

test_region_lookup_falls_back_to_lower_case if {
	lib.geo == "EU" with input as t.with_env({"region": "Europe"})
}

test_unmapped_region_has_no_expected_app_id if {
	inp := t.with_env({"region": "brazil"})
	not lib.geo with input as inp
	not lib.expected_app_id with input as inp
	not lib.region_mapped with input as inp
	lib.unmapped_region_message == "The environment's region \"brazil\" is not in the region map; add it under policy data regions (for example \"brazil\": \"US\") so the Work 365 App ID to expect is known." with input as inp
	lib.region_label == "\"brazil\"" with input as inp
}

test_geo_without_app_id_is_unmapped if {
	cfg := object.union(data.w365.config, {"regions": {"brazil": "BR"}})
	inp := t.with_env({"region": "brazil"})
	not lib.region_mapped with input as inp with data.w365.config as cfg
	lib.unmapped_region_message == "The environment's region \"brazil\" maps to geo \"BR\", which has no Work 365 App ID under policy data app_ids." with input as inp with data.w365.config as cfg
}

test_configured_app_ids_are_compared_in_lower_case if {
	cfg := object.union(data.w365.config, {"app_ids": {"US": upper(t.us_app_id)}})
	lib.expected_app_id == t.us_app_id with input as t.compliant with data.w365.config as cfg
	lib.app_user == t.app_user with input as t.compliant with data.w365.config as cfg
}

test_geo_of_app_id_names_the_data_centre if {
	lib.geo_of_app_id(t.eu_app_id) == "EU"
	lib.geo_of_app_id(upper(t.us_app_id)) == "US"
	lib.geo_of_app_id("00000000-0000-0000-0000-000000000000") == "unknown"
	lib.geo_of_app_id(null) == "unknown"
}

test_geos_sharing_an_app_id_are_named_together if {
	cfg := object.union(data.w365.config, {"app_ids": {"US": t.us_app_id, "EU": t.eu_app_id, "UK": upper(t.eu_app_id)}})
	lib.geo_of_app_id(t.eu_app_id) == "EU/UK" with data.w365.config as cfg
	lib.geo_of_app_id(t.us_app_id) == "US" with data.w365.config as cfg
}

test_configured_app_ids_text_lists_every_geo if {
	lib.configured_app_ids_text == sprintf("EU %s, US %s", [t.eu_app_id, t.us_app_id])
}

# ---------------------------------------------------------------------------------------
# The application user

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
	lib.first_by_id([{"id": "b"}, {"id": "a"}, {"id": "c"}]) == {"id": "a"}
	not lib.first_by_id([])
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

# ---------------------------------------------------------------------------------------
# Roles

test_role_held_from_own_business_unit if {
	lib.holds_role_in_own_bu(t.app_user, "Work 365 Service")
}

test_role_held_from_another_business_unit_is_not_from_its_own if {
	user := t.shallow(t.app_user, {"business_unit": t.sales_bu})
	lib.holds_role(user, "Work 365 Service")
	not lib.holds_role_in_own_bu(user, "Work 365 Service")
}

test_role_counts_by_name_when_the_business_unit_is_unknown if {
	user := object.remove(t.app_user, {"business_unit"})
	lib.holds_role_in_own_bu(user, "Work 365 Service")
	not lib.holds_role_in_own_bu(user, "System Administrator")
}

test_null_roles_hold_nothing if {
	not lib.holds_role(t.shallow(t.app_user, {"roles": null}), "Work 365 Service")
}

# ---------------------------------------------------------------------------------------
# Lists

test_sort_by_orders_by_key_then_id if {
	lib.sort_by([{"id": "2", "name": "b"}, {"id": "3", "name": "a"}, {"id": "1", "name": "b"}], "name") == [
		{"id": "3", "name": "a"},
		{"id": "1", "name": "b"},
		{"id": "2", "name": "b"},
	]
}

test_quoted_list_quotes_each_name if {
	lib.quoted_list(["a", "b \"c\""]) == "\"a\", \"b \\\"c\\\"\""
}

# ---------------------------------------------------------------------------------------
# Remediation actions

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
	lib.action_create_app_user(t.us_app_id) == {"action": "create_app_user", "app_id": t.us_app_id} with input as inp
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

test_holds_directly_and_teams_granting if {
	user := t.shallow(t.app_user, {"roles": [t.portal_role, t.via(t.service_role, t.ops_team), t.via(t.service_role, {"id": "team-b", "name": "Billing", "type": 2})]})
	lib.holds_role(user, "Work 365 Service")
	not lib.holds_directly(user, "Work 365 Service")
	lib.holds_directly(user, "Work 365 Portal Service")
	lib.teams_granting(user, "Work 365 Service") == ["Billing", "Work 365 Operators"]
	lib.role_source(t.via(t.service_role, t.ops_team)) == " through team \"Work 365 Operators\""
	lib.role_source(t.service_role) == ""
}

test_builtin_owners_need_the_name_and_no_identity if {
	lib.builtin_owner({"name": "SYSTEM", "is_application": false})
	lib.builtin_owner({"name": "integration", "is_application": false, "object_id": ""})
	not lib.builtin_owner({"name": "SYSTEM", "is_application": false, "object_id": "11111111-2222-4333-8444-555555555555"})
	not lib.builtin_owner({"name": "SYSTEM", "is_application": true})
	not lib.builtin_owner({"name": "Jane Doe", "is_application": false})
	not lib.flagged_owner({"name": "SYSTEM", "is_disabled": true, "is_application": false})
}

test_production_is_every_type_not_known_as_non_production if {
	lib.production("Production")
	lib.production("Default")
	lib.production("")
	lib.production("Teams")
	not lib.production("Sandbox")
	not lib.production("developer")
	not lib.production("Trial")
}
