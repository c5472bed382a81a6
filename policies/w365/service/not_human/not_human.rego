# METADATA
# title: The Work 365 service user is not a human account
# description: >-
#   Checks that the user the Work 365 service-user setting points to is not a person (a user
#   without an application ID whose access mode is not 4, non-interactive). This is the legacy
#   setup the guide replaces: a licensed human "service account" consumes a Dynamics 365
#   license, is tied to a person and stops Work 365's background operations when that person
#   leaves or the account is disabled; an application user needs no license and is a
#   consistent, auditable service identity. Fails when the service user is a person; the
#   message says whether the account is licensed. Not applicable when the setting is not
#   configured (W365.SERVICE.1), when it points to a user that does not exist (W365.SERVICE.3),
#   when the environment has no Dataverse database, was skipped, or does not have Work 365
#   installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-application-users
#     description: Manage application users in the Power Platform admin center
# custom:
#   id: W365.SERVICE.2
#   severity: high
#   guide: "Why This Matters: No license required"
#   remediation: >-
#     Create the Work 365 application user if needed (Step 2 and 3 of the guide), then in
#     Dynamics 365 open Work 365 → Admin Hub → Administration → Change Service User, select the
#     Application User as the Service Account, choose Proceed and then Clear Cache. Afterwards
#     remove the Work 365 roles from the human account and release its license if it has no
#     other use.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.service.not_human

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.not_configured_reason if {
	lib.applicable
	not lib.service_user_configured
}

not_applicable contains "The Work 365 service-user setting points to a user that does not exist (see W365.SERVICE.3)." if {
	lib.applicable
	lib.service_user_missing
}

deny contains result if {
	lib.applicable
	user := lib.service_user_account
	not lib.is_application(user)
	result := lib.fail(message(user), lib.user_evidence(user), lib.switch_service_user_actions)
}

message(user) := sprintf(
	"The Work 365 service user is %s, a licensed human account: it consumes a Dynamics 365 license and ties Work 365's background operations to a person.",
	[lib.user_label(user)],
) if {
	user.is_licensed == true
} else := sprintf(
	"The Work 365 service user is %s, a human account (not licensed): it ties Work 365's background operations to a person, and they stop when that account is disabled.",
	[lib.user_label(user)],
)
