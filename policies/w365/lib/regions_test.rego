package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

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
	lib._geo_of_app_id(t.eu_app_id) == "EU"
	lib._geo_of_app_id(upper(t.us_app_id)) == "US"
	lib._geo_of_app_id("00000000-0000-0000-0000-000000000000") == "unknown"
	lib._geo_of_app_id(null) == "unknown"
}

test_geos_sharing_an_app_id_are_named_together if {
	cfg := object.union(data.w365.config, {"app_ids": {"US": t.us_app_id, "EU": t.eu_app_id, "UK": upper(t.eu_app_id)}})
	lib._geo_of_app_id(t.eu_app_id) == "EU/UK" with data.w365.config as cfg
	lib._geo_of_app_id(t.us_app_id) == "US" with data.w365.config as cfg
}

test_configured_app_ids_text_lists_every_geo if {
	lib.configured_app_ids_text == sprintf("EU %s, US %s", [t.eu_app_id, t.us_app_id])
}
