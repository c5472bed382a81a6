# METADATA
# title: The Work 365 service user is the application user
# description: >-
#   Checks that the Work 365 service-user setting (Admin Hub → Administration → Change Service
#   User) is configured and points to a non-deleted Work 365 application user with the App ID
#   of the environment's data centre (for a region not in the region map, any Work 365 App ID).
#   Creating the application user is not enough: Work 365 runs its background operations as the
#   user this setting names, so until it points to the application user the licensed human
#   account the guide retires is still in use. Fails when the setting is not configured, points
#   to a user that does not exist, to a person, to a soft-deleted application user, to the other
#   data centre's application user or to an application user of another app. Not applicable
#   when the environment has no Dataverse database, was skipped, or does not have Work 365
#   installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
# custom:
#   id: W365.SERVICE.1
#   severity: critical
#   guide: "Step 5: Set the Application User in Work 365"
#   remediation: >-
#     In Dynamics 365 open Work 365 → Admin Hub → Administration → Change Service User (the name
#     may vary by version), select the Application User as the Service Account and choose
#     Proceed; after it succeeds choose Clear Cache from the same menu. Hover the user icon in
#     Work 365 to verify that the application user's App ID is shown.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.service.app_user

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

# correct holds when the setting points to a live Work 365 application user of the right App ID.
correct if {
	user := lib.service_user_account
	lib.is_application(user)
	not lib.deleted(user)
	acceptable_app_id(lib.app_id(user))
}

acceptable_app_id(id) if id == lib.expected_app_id

acceptable_app_id(id) if {
	not lib.region_mapped
	id in lib.work365_app_ids
}

deny contains result if {
	lib.applicable
	not correct
	result := lib.fail(
		concat("", [problem, switch_hint]),
		object.union(lib.service_user_evidence, {"expected_app_id": lib.expected_app_id_or_null}),
		lib.switch_service_user_actions,
	)
}

problem := "The Work 365 service-user setting is not configured, so Work 365 has no service identity to run under." if {
	not lib.service_user_configured
} else := sprintf("The Work 365 service-user setting points to %s, which does not exist.", [lib.missing_service_user_text]) if {
	lib.service_user_missing
} else := sprintf("The Work 365 service user is %s, a person, not the Work 365 application user.", [lib.user_label(user)]) if {
	user := lib.service_user_account
	not lib.is_application(user)
} else := sprintf("The Work 365 service user is the application user %q (App ID %s), which is not a Work 365 application.", [user.full_name, lib.app_id(user)]) if {
	user := lib.service_user_account
	not lib.app_id(user) in lib.work365_app_ids
} else := sprintf("The Work 365 service user is the application user %s, which is soft-deleted.", [lib.app_user_label(user)]) if {
	user := lib.service_user_account
	lib.deleted(user)
} else := sprintf("The Work 365 service user is the application user %s; region %s expects App ID %s.", [lib.app_user_label(user), lib.region_label, lib.expected_app_id]) if {
	user := lib.service_user_account
}

switch_hint := sprintf(" Point it at the application user %s.", [lib.app_user_label(user)]) if {
	user := lib.live_app_user(lib.fix_app_id)
} else := sprintf(" Point it at a new application user for App ID %s.", [lib.fix_app_id]) if {
	lib.fix_app_id
} else := sprintf(" %s", [lib.unmapped_region_message])
