# METADATA
# title: The application user holds Work 365 Service
# description: >-
#   Checks that the Work 365 application user holds the Work 365 Service security role from
#   its own business unit. The guide makes this role mandatory (Step 3): it carries the rights
#   Work 365 needs to run its service operations, and without it billing, provisioning and
#   background jobs fail under the application user. The role may be held directly or through
#   a team the user is a member of (an owner team or a Microsoft Entra group team); the result
#   then names the team. Security roles exist once per business unit; a copy from another
#   business unit grants its privileges in that unit only, so the role must come from the
#   user's own business unit. Fails when the role is missing or held only from another
#   business unit. Not applicable when no Work 365 application user exists
#   (W365.APPUSER.1 reports that), when the environment has no Dataverse database, was skipped,
#   or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/assign-security-roles
#     description: Assign a security role to a user
#   - ref: https://learn.microsoft.com/power-platform/admin/security-roles-privileges
#     description: Security roles and privileges
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-teams
#     description: Manage teams (roles held through owner and Microsoft Entra group teams)
# custom:
#   id: W365.ROLES.1
#   severity: critical
#   guide: "Step 3: Assign Security Roles"
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Settings → Users + permissions → Application users; on the Work 365 application user select
#     ⋯ → Edit security roles, choose the user's own business unit, tick Work 365 Service and
#     Save. Confirm in Dynamics 365 → Users (Application Users view) → the user → Manage Roles.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.roles.service

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.no_app_user_reason if {
	lib.applicable
	not lib.app_user
}

pass_info contains info if {
	lib.applicable
	user := lib.app_user
	lib.holds_role_in_own_bu(user, lib.service_role)
	info := lib.held_through_teams(user, lib.service_role)
}

deny contains result if {
	lib.applicable
	user := lib.app_user
	role := lib.service_role
	not lib.holds_role_in_own_bu(user, role)
	other_units := sort({r.business_unit_id | some r in user.roles; r.name == role})
	result := lib.fail(
		message(user, role, other_units),
		{
			"user_id": user.id,
			"full_name": object.get(user, "full_name", ""),
			"app_id": lib.app_id(user),
			"role": role,
			"business_unit": object.get(user, "business_unit", null),
			"held_from_business_units": other_units,
		},
		[lib.action_assign_role(lib.app_id(user), role)],
	)
}

message(user, role, other_units) := sprintf(
	"The Work 365 application user %s does not hold the security role %q.",
	[lib.app_user_label(user), role],
) if {
	count(other_units) == 0
} else := sprintf(
	"The Work 365 application user %s holds %q only from business unit %s, not from its own business unit %q (%s); assign the role of its own business unit.",
	[lib.app_user_label(user), role, lib.quoted_list(other_units), user.business_unit.name, user.business_unit.id],
)
