# METADATA
# title: Work 365 is version 3.5 or later
# description: >-
#   Checks that the installed Work 365 solution is at least the minimum version of the policy
#   data (min_version, 3.5 by default), comparing dotted versions numerically per component
#   ("3.10.0.0" is later than "3.5"). The guide lists Work 365 v3.5+ as a prerequisite of
#   running under an application user: earlier versions cannot use one, so no other change of
#   the guide can take effect and the fixer makes no automatic change until the upgrade is done.
#   Fails when the installed version is older than the minimum or cannot be read as a dotted
#   version. Not applicable when the environment has no Dataverse database, was skipped, or
#   does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-apps
#     description: Manage Dynamics 365 apps in the Power Platform admin center
# custom:
#   id: W365.INSTALL.1
#   severity: high
#   guide: Prerequisites
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Resources → Dynamics 365 apps, select Work 365 and choose Update (or follow Work 365's
#     upgrade path when no update is offered) until version 3.5 or later is installed; then run
#     the audit again so that the other remediations can be planned.
#   automatic: false
#   opt_in: ""
#   scope: environment
package w365.install.version

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

minimum := lib.config.min_version

deny contains result if {
	lib.applicable
	version := lib.installed_version
	not lib.installed_version_ok
	result := lib.fail(message(version), {"version": version, "minimum": minimum}, [upgrade_action])
}

message(version) := msg if {
	not lib.version_numbers(minimum)
	msg := sprintf("The policy data min_version %q is not a dotted version number; correct it in the audit configuration.", [minimum])
} else := msg if {
	lib.version_numbers(version)
	msg := sprintf("Work 365 %s is installed; application-user support needs version %s or later.", [version, minimum])
} else := msg if {
	version == ""
	msg := sprintf("Work 365 is installed but its version could not be read; version %s or later is required.", [minimum])
} else := sprintf("The installed Work 365 version %q is not a dotted version number; version %s or later is required.", [version, minimum])

upgrade_action := lib.action_manual(
	sprintf("Upgrade Work 365 to %s or later", [minimum]),
	[
		sprintf("In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → %q → Resources → Dynamics 365 apps.", [lib.env.name]),
		sprintf("Select Work 365 and choose Update; if no update is offered, follow Work 365's upgrade path for version %s or later.", [minimum]),
		sprintf("Check that the Work 365 solution in %q now reports version %s or later, then run the audit again.", [lib.env.name, minimum]),
	],
)
