# METADATA
# title: The application user is enabled and not soft-deleted
# description: >-
#   Checks that the Work 365 application user of the environment's data centre (for an
#   unmapped region, the application user in use) is enabled and not soft-deleted. The guide
#   moves Work 365 to an application user so that background jobs and automations keep
#   running; a disabled or deleted one stops them just as a departed employee's account would.
#   Fails when the user is disabled (it can be enabled again) or soft-deleted (a leftover that
#   a person must delete permanently before the user can be created again: permanent deletion is
#   a preview feature that needs an environment setting, so the fixer lists it as a manual step
#   and re-creates the user once it is done). Not applicable when no Work 365 application user exists
#   (W365.APPUSER.1 reports that), when the environment has no Dataverse database, was skipped,
#   or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
#   - ref: https://learn.microsoft.com/power-platform/admin/delete-users
#     description: Delete users in environments (soft and permanent deletion)
# custom:
#   id: W365.APPUSER.3
#   severity: critical
#   guide: "Step 4: Confirm the User Configuration"
#   remediation: >-
#     A disabled application user: in the Power Platform admin center open Environments, select
#     the environment, then Settings → Users + permissions → Application users, select the Work
#     365 application user and Activate it. A soft-deleted one: delete it permanently, create the
#     application user again for the same App ID, assign Work 365 Service and Work 365 Portal
#     Service, then select it in Work 365 → Admin Hub → Administration → Change Service User and
#     choose Clear Cache.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.appuser.enabled

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.no_app_user_reason if {
	lib.applicable
	not target
}

# target is the region's application user, else the one in use.
target := u if {
	u := lib.expected_app_user
} else := lib.app_user

deny contains result if {
	lib.applicable
	result := finding(target)
}

finding(user) := lib.fail(
	sprintf("The Work 365 application user %s is soft-deleted; it must be deleted permanently (a manual step) and created again.", [lib.app_user_label(user)]),
	lib.app_user_evidence(user),
	array.flatten([
		lib.purge_action(user),
		lib.create_actions(id),
		lib.action_set_service_user(id),
		lib.action_clear_cache,
	]),
) if {
	lib.deleted(user)
	id := recreate_app_id(user)
} else := lib.fail(
	sprintf("The Work 365 application user %s is disabled; Work 365 cannot run its background operations under it.", [lib.app_user_label(user)]),
	lib.app_user_evidence(user),
	[lib.action_enable_user(user)],
) if {
	lib.disabled(user)
}

# A soft-deleted user is re-created for the region's App ID, or its own in an unmapped region.
recreate_app_id(user) := lib.expected_app_id if {
	lib.region_mapped
} else := lib.app_id(user)
