# METADATA
# title: An application user exists for the region's Work 365 App ID
# description: >-
#   Checks that the environment has an application user (a Dataverse user of access mode 4
#   bound to an Entra app registration) for the Work 365 Application ID of its data centre:
#   the region of the environment is mapped to a geo by the policy data (regions), and the geo
#   to the region's Work 365 App ID (policy data app_ids). The guide runs Work 365 under this
#   dedicated service principal instead of a licensed human account: it needs no license, is
#   not tied to a person and keeps background jobs running when staff accounts change. A soft-deleted
#   application user still counts as existing here (W365.APPUSER.3 reports it). When the
#   region is not in the region map, the rule passes if any Work 365 App ID has an application
#   user and fails otherwise, asking for the region to be mapped. Not applicable when the
#   environment has no Dataverse database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
# custom:
#   id: W365.APPUSER.1
#   severity: critical
#   guide: "Step 2: Create a New Application User"
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Settings → Users + permissions → Application users → + New app user → + Add an app, paste
#     the region's Work 365 App ID (policy data app_ids; the finding names it), select the app,
#     choose the root business unit and Create. Assign it the Work 365 Service and Work 365
#     Portal Service roles, then in Work 365 → Admin Hub → Administration → Change Service User
#     select the Application User and choose Clear Cache.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.appuser.exists

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

deny contains result if {
	lib.applicable
	lib.region_mapped
	not lib.expected_app_user
	id := lib.expected_app_id
	result := lib.fail(
		concat("", [
			sprintf("No application user exists for the Work 365 App ID %s of the %s data centre (region %q).", [id, lib.geo, lib.env.region]),
			other_users_note,
		]),
		{
			"region": lib.env.region,
			"geo": lib.geo,
			"expected_app_id": id,
			"application_users": [lib.app_user_evidence(u) | some u in lib.app_users],
		},
		array.concat(lib.create_actions(id), [lib.action_set_service_user(id), lib.action_clear_cache]),
	)
}

deny contains result if {
	lib.applicable
	not lib.region_mapped
	count(lib.app_users) == 0
	result := lib.fail(
		sprintf("%s No application user exists for any Work 365 App ID (%s).", [lib.unmapped_region_message, lib.configured_app_ids_text]),
		{
			"region": lib.env.region,
			"app_ids": sort(lib.work365_app_ids),
			"application_users": [],
		},
		[lib.map_region_action],
	)
}

default other_users_note := ""

other_users_note := sprintf(" Work 365 application users of other data centres: %s.", [concat(", ", labels)]) if {
	labels := [lib.app_user_label(u) | some u in lib.app_users]
	count(labels) > 0
}
