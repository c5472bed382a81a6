# METADATA
# title: No person still holds Work 365 Service after the switch
# description: >-
#   Once the Work 365 service user is a (non-deleted) Work 365 application user, checks that no
#   person still holds the Work 365 Service role. The legacy setup ran Work 365 under a licensed
#   human "service account" with that role; after the switch the role only widens what those
#   people can do, keeps a license in use, and leaves the old account ready to be selected
#   again by mistake. Fails when people (users without an application ID, including
#   non-interactive accounts, which Microsoft also gives access mode 4) hold the role, directly or
#   through a team; the message names them and the teams. audit fix removes a directly held role
#   (with the fix-privileges opt-in); a role held through a team is a manual step. Not applicable while the service user is
#   not yet the application user (W365.SERVICE.1 reports that), when the environment has no
#   Dataverse database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/assign-security-roles
#     description: Assign a security role to a user
#   - ref: https://learn.microsoft.com/power-platform/admin/security-roles-privileges
#     description: Security roles and privileges
# custom:
#   id: W365.LEGACY.1
#   severity: medium
#   guide: "Why This Matters: Stronger security"
#   remediation: >-
#     In the Power Platform admin center open Environments, select the environment, then
#     Settings → Users + permissions → Users; for each listed person select Manage security
#     roles, clear Work 365 Service and Save. If the account was a dedicated service account,
#     disable it and release its license. audit fix removes the role only with the
#     fix-privileges opt-in.
#   automatic: true
#   opt_in: fix-privileges
#   scope: environment
package w365.legacy.role_holders

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

not_applicable contains "The Work 365 service user is not yet a Work 365 application user, so the human service account still needs its role (see W365.SERVICE.1)." if {
	lib.applicable
	not lib.service_user_is_app_user
}

holders := lib.sort_by(
	[u |
		some u in lib.dv.service_role_holders
		not lib.is_application(u)
		lib.holds_role(u, lib.service_role)
	],
	"full_name",
)

# entries pairs each holder with the copies of the role it holds (one per business unit, directly or through a
# team), built once for the message, the evidence and the actions.
entries := [[u, lib.sort_by([r | some r in u.roles; r.name == lib.service_role], "business_unit_id")] | some u in holders]

deny contains result if {
	lib.applicable
	lib.service_user_is_app_user
	count(holders) > 0
	role := lib.service_role
	result := lib.fail(
		sprintf(
			"%d person(s) still hold %q although the application user %s is the Work 365 service user: %s.",
			[count(holders), role, lib.app_user_label(lib.app_user), concat(", ", [holder_label(u, roles) | some [u, roles] in entries])],
		),
		{
			"service_user_id": lib.service_user_id,
			"role": role,
			"holders": [holder_evidence(u, roles) | some [u, roles] in entries],
		},
		actions,
	)
}

holder_evidence(user, roles) := object.union(
	object.filter(user, {"id", "full_name", "domain_name", "is_disabled", "is_licensed"}),
	{"roles": [lib.role_evidence(r) | some r in roles]},
)

# actions asks a person to take the role away, removes the copies held directly, and asks a person to deal with
# those held through teams.
actions := array.flatten([
	manual_action,
	[lib.action_remove_role(u, r) | some [u, roles] in entries; some r in roles; not r.team],
	[lib.remove_from_team_action(u, team_roles) |
		some [u, roles] in entries
		team_roles := [r | some r in roles; r.team]
		count(team_roles) > 0
	],
])

# holder_label names a holder, with the teams through which it holds the role.
holder_label(user, roles) := sprintf("%s (through team %s)", [lib.user_label(user), lib.quoted_list(teams)]) if {
	teams := sort({r.team.name | some r in roles; r.team})
	count(teams) > 0
} else := lib.user_label(user)

manual_action := lib.action_manual(
	sprintf("Remove the %s role from people", [lib.service_role]),
	[
		sprintf("In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → %q → Settings → Users + permissions → Users.", [lib.env.name]),
		sprintf("For each of %s select Manage security roles, clear %q and Save; keep the roles the person needs for their own work.", [lib.quoted_list([u.full_name | some u in holders]), lib.service_role]),
		"If an account was a dedicated Work 365 service account, disable it and release its license.",
	],
)
