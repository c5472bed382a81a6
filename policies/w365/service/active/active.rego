# METADATA
# title: The Work 365 service user is an active account
# description: >-
#   Checks that the user the Work 365 service-user setting points to exists, is enabled and is
#   not soft-deleted. Work 365 runs its scheduled jobs and automations as this user: a disabled,
#   deleted or missing account stops invoicing, provisioning and portal emails, which is the
#   failure the guide's "Always-on operations" point is about. Fails when the setting points to
#   a user that does not exist, or to a disabled or soft-deleted user. Not applicable when the
#   setting is not configured (W365.SERVICE.1 reports that), when the environment has no
#   Dataverse database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
#   - ref: https://learn.microsoft.com/power-apps/developer/data-platform/asynchronous-service
#     description: Asynchronous service (system jobs) in Dataverse
# custom:
#   id: W365.SERVICE.3
#   severity: critical
#   guide: "Why This Matters: Always-on operations"
#   remediation: >-
#     When the service user is the Work 365 application user and only disabled, activate it in
#     the Power Platform admin center (Environments → the environment → Settings → Users +
#     permissions → Application users). Otherwise point the setting at an active Work 365
#     application user: Work 365 → Admin Hub → Administration → Change Service User, select the
#     Application User, Proceed, then Clear Cache.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.service.active

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.not_configured_reason if {
	lib.applicable
	not lib.service_user_configured
}

deny contains result if {
	lib.applicable
	lib.service_user_configured
	result := lib.fail(problem, lib.service_user_evidence, lib.switch_service_user_actions)
}

problem := sprintf("The Work 365 service-user setting points to %s, which does not exist; Work 365 background jobs cannot run.", [lib.missing_service_user_text]) if {
	lib.service_user_missing
} else := sprintf("The Work 365 service user %s is soft-deleted; Work 365 background jobs cannot run under it.", [lib.user_label(user)]) if {
	user := lib.service_user_account
	lib.deleted(user)
} else := sprintf("The Work 365 service user %s is disabled; Work 365 background jobs stop while it is.", [lib.user_label(user)]) if {
	user := lib.service_user_account
	lib.disabled(user)
}
