# METADATA
# title: The application user holds no role beyond the two Work 365 roles
# description: >-
#   Checks that the Work 365 application user holds only Work 365 Service and Work 365 Portal
#   Service. The guide asks for least privilege and a periodic review of assigned roles: the two
#   Work 365 roles are all the service identity needs, and any other role, System
#   Administrator above all, widens what a leaked credential of the Work 365 app registration
#   could do in the environment. Roles held through teams count as much as direct ones. Fails
#   when the application user holds any other role; the message names each one, System
#   Administrator first, and the team it comes through. audit fix removes direct roles (with the
#   fix-privileges opt-in); a role held through a team is a manual step, since taking it from the
#   team takes it from every member. Not applicable when no Work 365
#   application user exists (W365.APPUSER.1 reports that), when the environment has no Dataverse
#   database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/security-roles-privileges
#     description: Security roles and privileges
#   - ref: https://learn.microsoft.com/power-platform/admin/assign-security-roles
#     description: Assign a security role to a user
# custom:
#   id: W365.ROLES.3
#   severity: medium
#   guide: "Notes & Best Practices: Least privilege"
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Settings → Users + permissions → Application users; on the Work 365 application user select
#     ⋯ → Edit security roles, clear every role other than Work 365 Service and Work 365 Portal
#     Service (System Administrator first) and Save. audit fix removes them only with the
#     fix-privileges opt-in.
#   automatic: true
#   opt_in: fix-privileges
#   scope: environment
package w365.roles.least_privilege

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains lib.no_app_user_reason if {
	lib.applicable
	not lib.app_user
}

system_administrator := "System Administrator"

deny contains result if {
	lib.applicable
	user := lib.app_user
	extra := [r | some r in user.roles; not r.name in lib.required_roles]
	count(extra) > 0
	ordered := admin_first(extra)
	through_teams := [r | some r in ordered; r.team]
	result := lib.fail(
		sprintf(
			"The Work 365 application user %s holds %d role(s) beyond %q and %q: %s.",
			[
				lib.app_user_label(user), count(extra), lib.service_role, lib.portal_role,
				concat(", ", [concat("", [role_label(r), lib.role_source(r)]) | some r in ordered]),
			],
		),
		{
			"user_id": user.id,
			"full_name": object.get(user, "full_name", ""),
			"app_id": lib.app_id(user),
			"system_administrator": system_administrator in {r.name | some r in extra},
			"extra_roles": [lib.role_evidence(r) | some r in lib.sort_by(extra, "name")],
		},
		array.concat(
			[lib.action_remove_role(user, r) | some r in ordered; not r.team],
			[lib.remove_from_team_action(user, through_teams) | count(through_teams) > 0],
		),
	)
}

# admin_first orders roles by name, System Administrator first; a role held directly before the same role
# held through a team.
admin_first(roles) := [roles[i] | some key in sorted; i := key[4]] if {
	sorted := sort([[rank(r), r.name, object.get(r, "id", ""), object.get(object.get(r, "team", {}), "name", ""), j] | some j, r in roles])
}

rank(role) := 0 if {
	role.name == system_administrator
} else := 1

role_label(role) := sprintf("%q (full control of the environment)", [role.name]) if {
	role.name == system_administrator
} else := sprintf("%q", [role.name])
