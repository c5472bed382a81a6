# Regions and App IDs: the data-centre geo of the environment's region and the Work 365 App ID it expects.
package w365.lib

# geo is the data-centre geo (US, EU, …) of the environment's region; undefined when the
# region is not in the region map.
geo := g if {
	g := config.regions[env.region]
} else := g if {
	g := config.regions[lower(env.region)]
}

# expected_app_id is the Work 365 App ID of the environment's geo (lower case).
expected_app_id := lower(config.app_ids[geo])

region_mapped if expected_app_id

# work365_app_ids are all configured Work 365 App IDs (lower case).
# regal ignore:prefer-set-or-object-rule
work365_app_ids := {lower(id) | some id in config.app_ids}

# _geo_of_app_id names the geo(s) an App ID belongs to ("US", "EU", or "unknown").
_geo_of_app_id(id) := geo if {
	geo := _app_id_geos[lower(id)]
} else := "unknown"

# _app_id_geos maps each configured App ID (lower case) to its geo(s): "US", or "EU/UK" when geos share one.
# regal ignore:prefer-set-or-object-rule
_app_id_geos := {id: concat("/", sort([g | some g, v in config.app_ids; lower(v) == id])) |
	some w in config.app_ids
	id := lower(w)
}

# region_label describes the environment's region for messages: `"europe" (EU)`.
region_label := sprintf("%q (%s)", [env.region, geo]) if {
	region_mapped
} else := sprintf("%q", [env.region])

# unmapped_region_message explains why no App ID is expected for the environment.
unmapped_region_message := msg if {
	not geo
	msg := sprintf(
		"The environment's region %q is not in the region map; add it under policy data regions (for example %q: \"US\") so the Work 365 App ID to expect is known.",
		[object.get(env, "region", ""), object.get(env, "region", "")],
	)
} else := sprintf(
	"The environment's region %q maps to geo %q, which has no Work 365 App ID under policy data app_ids.",
	[env.region, geo],
)

# configured_app_ids_text lists the configured App IDs (policy data app_ids) for manual steps: "EU <id>, US <id>".
configured_app_ids_text := concat(", ", [concat(" ", [g, lower(config.app_ids[g])]) |
	some g in sort(object.keys(config.app_ids))
])
