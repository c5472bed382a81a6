# Roles: the two Work 365 roles and which roles a user holds.
#
# A user's roles are read as user.roles: iterating over null (an empty list as Go writes it) yields nothing.
package w365.lib

# Names of the two roles the guide requires (Step 3: Assign Security Roles).
service_role := config.roles.service

portal_role := config.roles.portal

required_roles := {service_role, portal_role}

# holds_role holds when the user holds a role of that name, from any business unit: directly, or as a member
# of a team that holds it (roles held through a team carry it as role.team).
holds_role(user, name) if {
	some role in user.roles
	role.name == name
}

# _holds_directly holds when the user holds a role of that name itself, not only through a team.
_holds_directly(user, name) if {
	some role in user.roles
	role.name == name
	not role.team
}

# _teams_granting names the teams through which a user holds a role of that name, sorted.
_teams_granting(user, name) := sort({role.team.name | some role in user.roles; role.name == name; role.team})

# held_through_teams is the pass_info of a rule about a role the application user holds, when it holds the
# role only through teams: why the rule passes, naming the teams.
held_through_teams(user, name) := passing(
	sprintf("The Work 365 application user %s holds %q through team %s.", [app_user_label(user), name, quoted_list(names)]),
	{
		"user_id": user.id,
		"app_id": app_id(user),
		"role": name,
		"teams": sort_by([t | some t in teams], "name"),
	},
) if {
	not _holds_directly(user, name)
	teams := {object.filter(r.team, {"id", "name", "type"}) | some r in user.roles; r.name == name; r.team}
	count(teams) > 0
	names := sort({t.name | some t in teams})
}

# role_source describes where a role comes from for messages: "" when held directly, else ` through team "Ops"`.
role_source(role) := sprintf(" through team %q", [role.team.name]) if {
	role.team
} else := ""

# role_evidence describes a role in evidence, with the team it comes through when it is not held directly.
role_evidence(role) := object.union(
	object.filter(role, {"id", "name", "business_unit_id"}),
	{"team": object.filter(role.team, {"id", "name", "type"})},
) if {
	role.team
} else := object.filter(role, {"id", "name", "business_unit_id"})

# holds_role_in_own_bu holds when the user holds the role from its own business unit.
holds_role_in_own_bu(user, name) if {
	some role in user.roles
	role.name == name
	role.business_unit_id == user.business_unit.id
}

# When the user's business unit was not read, holding the role by name is all that can be checked.
holds_role_in_own_bu(user, name) if {
	not user.business_unit.id
	holds_role(user, name)
}
