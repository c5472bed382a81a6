# METADATA
# title: The application user in use is the region's
# description: >-
#   Checks that the Work 365 application user in use has the Application ID of the
#   environment's data centre: an environment in a US region runs on the US App ID and one in
#   Europe on the EU App ID, never the other way round. The guide's troubleshooting names the
#   wrong regional App ID as the first thing to rule out. The application user in use is the
#   configured service user when it is a Work 365 application user, else the region's own
#   application user, else any other Work 365 application user. Fails when that user's App ID
#   is not the region's. Not applicable when the region is not in the region map (policy data
#   regions), when no Work 365 application user exists (W365.APPUSER.1 reports that), when the
#   environment has no Dataverse database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
# custom:
#   id: W365.APPUSER.2
#   severity: high
#   guide: "Step 2: Create a New Application User"
#   remediation: >-
#     Create the application user of the region's Work 365 App ID (policy data app_ids; the
#     finding names it) in Settings → Users + permissions → Application users of the environment
#     if it does not exist, assign it Work 365 Service and Work 365 Portal Service, then in
#     Work 365 → Admin Hub → Administration → Change Service User select it and choose Clear
#     Cache.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.appuser.region

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.unmapped_region_message if {
	lib.applicable
	not lib.region_mapped
}

not_applicable contains lib.no_app_user_reason if {
	lib.applicable
	lib.region_mapped
	not lib.app_user
}

deny contains result if {
	lib.applicable
	expected := lib.expected_app_id
	user := lib.app_user
	in_use := lib.app_id(user)
	in_use != expected
	result := lib.fail(
		concat("", [
			sprintf("The Work 365 application user in use, %s, belongs to another data centre; region %q (%s) expects App ID %s.", [lib.app_user_label(user), lib.env.region, lib.geo, expected]),
			service_user_note(user),
		]),
		{
			"app_id": in_use,
			"expected_app_id": expected,
			"region": lib.env.region,
			"geo": lib.geo,
			"user_id": user.id,
			"full_name": object.get(user, "full_name", ""),
			"service_user": user.id == lib.service_user_id,
		},
		actions(expected),
	)
}

service_user_note(user) := " It is the configured Work 365 service user." if {
	user.id == lib.service_user_id
} else := ""

# The right region's application user exists: make sure it is enabled and holds both roles,
# then switch the service user to it. Otherwise create it (with both roles) first.
actions(id) := array.concat(
	lib.provision_actions(id),
	[
		lib.action_assign_role(id, lib.service_role),
		lib.action_assign_role(id, lib.portal_role),
		lib.action_set_service_user(id),
		lib.action_clear_cache,
	],
) if {
	lib.live_app_user(id)
} else := array.concat(lib.provision_actions(id), [lib.action_set_service_user(id), lib.action_clear_cache])
