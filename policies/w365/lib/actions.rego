# Remediation actions (docs/policy-contract.md §5): the builders of single actions, the manual steps, and the
# composites that provision the application user and switch the service user over.
package w365.lib

_action_create_app_user(id) := object.union({"action": "create_app_user", "app_id": id}, _root_business_unit)

default _root_business_unit := {}

_root_business_unit := {"business_unit_id": dv.root_business_unit.id} if dv.root_business_unit.id

# purge_action is the manual removal of a soft-deleted application user. Permanent deletion of users is a
# preview feature that needs an environment setting and the user's records reassigned first
# (learn.microsoft.com/power-platform/admin/delete-users), so it is never automated.
purge_action(user) := action_manual(
	"Permanently delete the soft-deleted Work 365 application user",
	[
		sprintf("In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → %q → Settings and allow the deletion of disabled users (a preview feature; see https://learn.microsoft.com/power-platform/admin/delete-users).", [env.name]),
		sprintf("Reassign the records the application user %s still owns, then open Settings → Users + permissions → Users, select it among the disabled users and delete it permanently.", [app_user_label(user)]),
		"Run audit fix again: it creates the application user anew, gives it both Work 365 roles and points the service user at it.",
	],
)

# remove_from_team_action is the manual step for a role a user holds through a team: removing the role from the
# team would take it from every member, so a person decides.
remove_from_team_action(user, roles) := action_manual(
	sprintf("Take away the roles %s holds through teams", [user_label(user)]),
	[
		sprintf("In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → %q → Settings → Users + permissions → Teams.", [env.name]),
		sprintf("For %s: remove %s from the team, or remove the role from the team if no other member needs it.", [
			concat(", ", [sprintf("%q (team %q)", [r.name, r.team.name]) | some r in roles]),
			user_label(user),
		]),
	],
)

action_enable_user(user) := {"action": "enable_user", "user_id": user.id, "app_id": app_id(user)}

action_assign_role(id, role) := {"action": "assign_role", "app_id": id, "role": role}

action_remove_role(user, role) := {
	"action": "remove_role",
	"user_id": user.id,
	"role_id": role.id,
	"role": role.name,
	"opt_in": "fix-privileges",
}

action_set_service_user(id) := {"action": "set_service_user", "app_id": id}

action_clear_cache := {"action": "clear_cache"}

action_manual(title, steps) := {"action": "manual", "title": title, "steps": steps}

# create_actions creates the application user of an App ID and gives it both roles.
create_actions(id) := [
	_action_create_app_user(id),
	action_assign_role(id, service_role),
	action_assign_role(id, portal_role),
]

# provision_actions makes the application user of an App ID usable: enable it when it is
# disabled, re-create it when only a soft-deleted leftover exists (after a person purges it),
# create it when there is none.
provision_actions(id) := [action_enable_user(u)] if {
	u := live_app_user(id)
	disabled(u)
} else := [] if {
	live_app_user(id)
} else := array.concat([purge_action(u)], create_actions(id)) if {
	u := _deleted_app_user(id)
} else := create_actions(id)

# fix_app_id is the App ID the service user should be switched to: the region's, or for an
# unmapped region the App ID of an existing non-deleted Work 365 application user.
fix_app_id := expected_app_id if {
	region_mapped
} else := app_id(app_user) if {
	not deleted(app_user)
}

# switch_service_user_actions points the service-user setting at the right application user
# (creating or enabling it first when needed), then clears the Work 365 cache.
switch_service_user_actions := array.concat(
	provision_actions(fix_app_id),
	[action_set_service_user(fix_app_id), action_clear_cache],
) if {
	fix_app_id
} else := [map_region_action]

# map_region_action is the manual remediation when no App ID can be chosen for the region.
map_region_action := action_manual(
	"Map the environment's region to a Work 365 App ID",
	[
		sprintf("Add the region %q under policy data regions in the audit configuration, mapped to the Work 365 data centre the environment uses, then run the audit again.", [env.region]),
		sprintf("Or configure it by hand: in the Power Platform admin center (https://admin.powerplatform.microsoft.com) → Environments → %q → Settings → Users + permissions → Application users → + New app user → + Add an app, paste the Work 365 Application ID of your data centre (%s), then Create.", [env.name, configured_app_ids_text]),
		sprintf("On the new application user select Edit security roles and assign %q and %q.", [service_role, portal_role]),
		"In Dynamics 365 open Work 365 → Admin Hub → Administration → Change Service User, select the Application User as the Service Account → Proceed, then choose Clear Cache from the same menu.",
	],
)
