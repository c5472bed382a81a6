# METADATA
# title: The application user holds Work 365 Portal Service
# description: >-
#   Checks that the Work 365 application user holds the Work 365 Portal Service security role.
#   The guide makes this role mandatory next to Work 365 Service (Step 3): it lets Work 365
#   initialise and serve its customer portal without System Administrator rights; without it
#   portal invitations and emails stop. The role may be held directly or through a team the user
#   is a member of (an owner team or a Microsoft Entra group team); the result then names the
#   team. Fails when the application user holds no role of that name. Not applicable when no Work 365 application user exists (W365.APPUSER.1 reports that),
#   when the environment has no Dataverse database, was skipped, or does not have Work 365
#   installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/assign-security-roles
#     description: Assign a security role to a user
#   - ref: https://learn.microsoft.com/power-platform/admin/manage-teams
#     description: Manage teams (roles held through owner and Microsoft Entra group teams)
# custom:
#   id: W365.ROLES.2
#   severity: high
#   guide: "Step 3: Assign Security Roles"
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Settings → Users + permissions → Application users; on the Work 365 application user select
#     ⋯ → Edit security roles, tick Work 365 Portal Service and Save. Confirm in Dynamics 365 →
#     Users (Application Users view) → the user → Manage Roles.
#   automatic: true
#   opt_in: ""
#   scope: environment
package w365.roles.portal

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.no_app_user_reason if {
	lib.applicable
	not lib.app_user
}

pass_info contains info if {
	lib.applicable
	user := lib.app_user
	info := lib.held_through_teams(user, lib.portal_role)
}

deny contains result if {
	lib.applicable
	user := lib.app_user
	role := lib.portal_role
	not lib.holds_role(user, role)
	result := lib.fail(
		sprintf("The Work 365 application user %s does not hold the security role %q.", [lib.app_user_label(user), role]),
		{
			"user_id": user.id,
			"full_name": object.get(user, "full_name", ""),
			"app_id": lib.app_id(user),
			"role": role,
			"roles": sort([r.name | some r in user.roles]),
		},
		[lib.action_assign_role(lib.app_id(user), role)],
	)
}
