# Shared helpers of the Work 365 rules.
#
# Every rule reads one environment of the snapshot (input.environment, the JSON of
# snapshot.Environment) and the policy data (data.w365.config). The helpers below answer
# the questions all rules ask: was Dataverse read, which region and App ID apply, which
# application user is "the" Work 365 application user, which roles a user holds, how two
# Work 365 versions compare, and which remediation actions switch the service user over.
#
# Nothing here may raise an evaluation error, whatever the input: environments that could
# not be read (status "error"), that were skipped, or whose lists are null all evaluate to
# "undefined" rather than to an error.
package w365.lib

# The environment under evaluation, its Dataverse organization (absent when nothing was
# read) and the policy data.
env := input.environment

dv := env.dataverse

config := data.w365.config

# production holds for every environment type that is not a known non-production one (policy data
# non_production_types: Sandbox, Developer, Trial). The Default environment, which Microsoft calls a
# production environment, an empty type and types this policy does not know are production: a gate that lets
# what it does not recognise through is no gate.
production(type) if not lower(type) in non_production_types

non_production_types := {lower(t) | some t in config.non_production_types}

# Names of the two roles the guide requires (Step 3: Assign Security Roles).
service_role := config.roles.service

portal_role := config.roles.portal

required_roles := {service_role, portal_role}

# ---------------------------------------------------------------------------------------
# Applicability

# dataverse_read holds when the environment was read completely and has a Dataverse organization.
dataverse_read if {
	env.status == "ok"
	is_object(dv)
}

# base_not_applicable holds the reasons shared by all environment-scoped rules.
base_not_applicable contains "The environment has no Dataverse database." if {
	is_object(env)
	not env.has_dataverse
}

base_not_applicable contains skip_reason if {
	env.has_dataverse
	env.status == "skipped"
}

base_not_applicable contains "Work 365 is not installed." if {
	dataverse_read
	not dv.work365.installed
}

default skip_reason := "The environment was skipped during collection."

skip_reason := env.skip_reason if env.skip_reason != ""

# applicable holds when an environment-scoped rule has something to judge.
applicable if {
	dataverse_read
	count(base_not_applicable) == 0
}

# ---------------------------------------------------------------------------------------
# Regions and App IDs

# geo is the data-centre geo (US, EU, …) of the environment's region; undefined when the
# region is not in the region map.
geo := g if {
	g := config.regions[env.region]
} else := g if {
	g := config.regions[lower(env.region)]
}

# expected_app_id is the Work 365 App ID of the environment's geo (lower case).
expected_app_id := lower(config.app_ids[geo])

region_mapped if expected_app_id

# work365_app_ids are all configured Work 365 App IDs (lower case).
work365_app_ids := {lower(id) | some id in config.app_ids}

# geo_of_app_id names the geo(s) an App ID belongs to ("US", "EU", or "unknown").
geo_of_app_id(id) := geo if {
	geo := app_id_geos[lower(id)]
} else := "unknown"

# app_id_geos maps each configured App ID (lower case) to its geo(s): "US", or "EU/UK" when geos share one.
app_id_geos := {id: concat("/", sort([g | some g, v in config.app_ids; lower(v) == id])) |
	some w in config.app_ids
	id := lower(w)
}

# region_label describes the environment's region for messages: `"europe" (EU)`.
region_label := sprintf("%q (%s)", [env.region, geo]) if {
	region_mapped
} else := sprintf("%q", [env.region])

# unmapped_region_message explains why no App ID is expected for the environment.
unmapped_region_message := msg if {
	not geo
	msg := sprintf(
		"The environment's region %q is not in the region map; add it under policy data regions (for example %q: \"US\") so the Work 365 App ID to expect is known.",
		[object.get(env, "region", ""), object.get(env, "region", "")],
	)
} else := sprintf(
	"The environment's region %q maps to geo %q, which has no Work 365 App ID under policy data app_ids.",
	[env.region, geo],
)

# configured_app_ids_text lists the configured App IDs for manual steps: "EU 5e56…, US e4b1…".
configured_app_ids_text := concat(", ", [concat(" ", [g, lower(config.app_ids[g])]) |
	some g in sort(object.keys(config.app_ids))
])

# ---------------------------------------------------------------------------------------
# Users

# list returns obj[key] when it is an array, else an empty array (Go writes nil slices as null).
list(obj, key) := obj[key] if {
	is_array(obj[key])
} else := []

# app_id is a user's Entra application (client) ID in lower case, "" for people.
app_id(user) := lower(user.application_id) if {
	is_string(user.application_id)
} else := ""

# is_application holds for application users: users with an application ID. Access mode 4 (non-interactive)
# alone does not make one: Microsoft uses it for ordinary people's accounts too.
is_application(user) if app_id(user) != ""

deleted(user) if object.get(user, "deleted_state", 0) != 0

disabled(user) if user.is_disabled == true

# app_users are the application users of the environment whose App ID is a Work 365 App ID,
# soft-deleted ones included.
app_users := sort_by([u | some u in dv.application_users; app_id(u) in work365_app_ids], "full_name")

# first_by_id picks the user with the smallest id, so that a choice among several is stable.
first_by_id(users) := users[0] if {
	count(users) == 1
} else := users[i] if {
	pairs := sort([[u.id, j] | some j, u in users])
	i := pairs[0][1]
}

# live_app_user is the non-deleted application user of an App ID.
live_app_user(id) := first_by_id([u | some u in app_users; app_id(u) == id; not deleted(u)])

# deleted_app_user is a soft-deleted application user of an App ID.
deleted_app_user(id) := first_by_id([u | some u in app_users; app_id(u) == id; deleted(u)])

# expected_app_user is the application user of the region's App ID: the non-deleted one,
# else a soft-deleted leftover.
expected_app_user := u if {
	u := live_app_user(expected_app_id)
} else := u if {
	u := deleted_app_user(expected_app_id)
}

# The Work 365 service-user setting and the user it points to.
service_user_configured if dv.service_user.configured == true

service_user_account := dv.service_user.user if is_object(dv.service_user.user)

service_user_id := dv.service_user.user.id if {
	is_object(dv.service_user.user)
} else := dv.service_user.user_id

# service_user_missing holds when the setting points at a user that does not exist.
service_user_missing if {
	service_user_configured
	not service_user_account
}

# app_user is "the" Work 365 application user: the service user when it is one of them,
# else the non-deleted one of the region's App ID, else any non-deleted one, else a
# soft-deleted one of the region's App ID. Undefined when there is none.
app_user := u if {
	u := first_by_id([x | some x in app_users; x.id == service_user_id])
} else := u if {
	u := live_app_user(expected_app_id)
} else := u if {
	u := first_by_id([x | some x in app_users; not deleted(x)])
} else := u if {
	u := deleted_app_user(expected_app_id)
}

# service_user_is_app_user holds when the service user is a non-deleted Work 365 application user.
service_user_is_app_user if {
	some u in app_users
	u.id == service_user_id
	not deleted(u)
}

# user_label names a user for messages: `"Jane Doe" (jane@contoso.com)` or `"# Work 365" (App ID …)`.
user_label(user) := sprintf("%q (App ID %s)", [user.full_name, id]) if {
	id := app_id(user)
	id != ""
} else := sprintf("%q (%s)", [user.full_name, user.domain_name]) if {
	user.domain_name != ""
} else := sprintf("%q", [object.get(user, "full_name", object.get(user, "id", ""))])

# ---------------------------------------------------------------------------------------
# Roles
#
# A user's roles are read as user.roles: iterating over null (an empty list as Go writes it) yields nothing.

# holds_role holds when the user holds a role of that name, from any business unit: directly, or as a member
# of a team that holds it (roles held through a team carry it as role.team).
holds_role(user, name) if {
	some role in user.roles
	role.name == name
}

# holds_directly holds when the user holds a role of that name itself, not only through a team.
holds_directly(user, name) if {
	some role in user.roles
	role.name == name
	not role.team
}

# teams_granting names the teams through which a user holds a role of that name, sorted.
teams_granting(user, name) := sort({role.team.name | some role in user.roles; role.name == name; role.team})

# held_through_teams is the pass_info of a rule about a role the application user holds, when it holds the
# role only through teams: why the rule passes, naming the teams.
held_through_teams(user, name) := {
	"message": sprintf("The Work 365 application user %s holds %q through team %s.", [app_user_label(user), name, quoted_list(names)]),
	"evidence": {
		"user_id": user.id,
		"app_id": app_id(user),
		"role": name,
		"teams": sort_by([t | some t in teams], "name"),
	},
} if {
	not holds_directly(user, name)
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

# ---------------------------------------------------------------------------------------
# Versions

# version_numbers parses a dotted version ("3.5.1.0") into numbers; undefined when it is not one.
version_numbers(v) := [to_number(p) | some p in split(trim_space(v), ".")] if {
	is_string(v)
	regex.match(`^\s*[0-9]+(\.[0-9]+)*\s*$`, v)
}

# version_key is a dotted version as numbers without its trailing zero components ("3.5.0.0" → [3, 5]).
# Rego orders arrays element by element and a prefix first, so keys compare as versions do: missing
# components count as 0 and components compare as numbers.
version_key(v) := [to_number(p) | some p in split(regex.replace(trim_space(v), `(\.0+)+$`, ""), ".")] if {
	is_string(v)
	regex.match(`^\s*[0-9]+(\.[0-9]+)*\s*$`, v)
}

# version_at_least compares numerically per dotted component, missing components being 0:
# "3.10.0.0" ≥ "3.5", "3.5.0.0" ≥ "3.5", "3.4.9" < "3.5".
version_at_least(v, minimum) if version_key(v) >= version_key(minimum)

# installed_version is the version of the Work 365 solution ("" when it has none).
installed_version := object.get(dv.work365, "version", "")

# installed_version_ok holds when the installed version is at least the policy's minimum; computed once per
# evaluation for every rule that asks.
installed_version_ok if version_key(installed_version) >= minimum_version_key

# minimum_version_key is the policy's minimum version as a version key.
minimum_version_key := version_key(config.min_version)

# ---------------------------------------------------------------------------------------
# Lists and messages

# quoted_list renders names as `"a", "b"`.
quoted_list(names) := concat(", ", [sprintf("%q", [n]) | some n in names])

# sort_by orders objects by one key, then by id, so that evidence is deterministic. Lists of one or none
# (the usual case) are returned as they are.
sort_by(objs, key) := objs if {
	count(objs) < 2
} else := [objs[i] | some pair in sorted; i := pair[2]] if {
	sorted := sort([[object.get(o, key, ""), object.get(o, "id", ""), j] | some j, o in objs])
}

# ---------------------------------------------------------------------------------------
# Remediation actions (see docs/policy-contract.md)

action_create_app_user(id) := object.union({"action": "create_app_user", "app_id": id}, root_business_unit)

default root_business_unit := {}

root_business_unit := {"business_unit_id": dv.root_business_unit.id} if dv.root_business_unit.id

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
	action_create_app_user(id),
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
	u := deleted_app_user(id)
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

# ---------------------------------------------------------------------------------------
# Evidence

# app_user_evidence describes an application user in evidence.
app_user_evidence(user) := {
	"id": user.id,
	"full_name": object.get(user, "full_name", ""),
	"app_id": app_id(user),
	"geo": geo_of_app_id(app_id(user)),
	"is_disabled": object.get(user, "is_disabled", false),
	"deleted_state": object.get(user, "deleted_state", 0),
}

# no_app_user_reason is the not-applicable reason of the rules about the application user.
no_app_user_reason := "No Work 365 application user exists (see W365.APPUSER.1)."

# app_user_label names a Work 365 application user with its data centre: `"# Work 365" (US App ID …)`.
app_user_label(user) := sprintf(
	"%q (%s App ID %s)",
	[object.get(user, "full_name", user.id), geo_of_app_id(app_id(user)), app_id(user)],
)

# user_evidence describes any user (person or application) in evidence.
user_evidence(user) := {
	"id": user.id,
	"full_name": object.get(user, "full_name", ""),
	"domain_name": object.get(user, "domain_name", ""),
	"app_id": app_id(user),
	"is_application": is_application_value(user),
	"is_licensed": object.get(user, "is_licensed", false),
	"is_disabled": object.get(user, "is_disabled", false),
	"deleted_state": object.get(user, "deleted_state", 0),
}

is_application_value(user) if {
	is_application(user)
} else := false

# service_user_evidence describes the service-user setting and the user it points to.
service_user_evidence := {
	"configured": object.get(setting, "configured", false),
	"setting_id": object.get(setting, "setting_id", ""),
	"user_id": object.get(setting, "user_id", ""),
	"user": service_user_summary,
} if {
	setting := object.get(dv, "service_user", {})
}

default service_user_summary := null

service_user_summary := user_evidence(service_user_account) if service_user_account

# missing_service_user_text names the user id a dangling service-user setting points to.
default missing_service_user_text := "a user"

missing_service_user_text := sprintf("user id %s", [id]) if {
	id := object.get(dv.service_user, "user_id", "")
	id != ""
}

not_configured_reason := "The Work 365 service-user setting is not configured (see W365.SERVICE.1)."

# expected_app_id_or_null is the region's App ID for evidence, null when the region is unmapped.
default expected_app_id_or_null := null

expected_app_id_or_null := expected_app_id if region_mapped

# ---------------------------------------------------------------------------------------
# Owners of flows, connection references and email templates

# flagged_owner holds when an owner is disabled, or is a person holding a Work 365 role
# (a retired human "service account"). System-managed users are disabled by design and own out-of-box
# records; they are not flagged.
flagged_owner(owner) if {
	owner.is_disabled == true
	not builtin_owner(owner)
}

# builtin_owner holds for the system-managed users every organization has, such as SYSTEM and INTEGRATION
# (learn.microsoft.com/power-platform/admin/system-application-users): a name from policy data builtin_users,
# no application ID and no Microsoft Entra object ID. Microsoft documents no column that marks them, so the
# name alone is not enough (undocumented: our choice).
builtin_owner(owner) if {
	upper(owner.name) in builtin_user_names
	not owner.is_application == true
	object.get(owner, "object_id", "") == ""
}

builtin_user_names := {upper(n) | some n in config.builtin_users}

flagged_owner(owner) if {
	owner.holds_service_role == true
	not owner.is_application == true
}

owner_reasons(owner) := array.concat(
	["disabled" | owner.is_disabled == true],
	["human account holding a Work 365 role" | owner.holds_service_role == true; not owner.is_application == true],
)

# owner_label names an owner with why it is flagged: `"Jane Doe" (jane@contoso.com; disabled)`.
owner_label(owner) := sprintf("%q (%s)", [owner.name, concat("; ", array.concat(domain, owner_reasons(owner)))]) if {
	domain := [owner.domain_name | owner.domain_name != ""]
}

owner_evidence(owner) := object.union(
	object.filter(owner, {"id", "name", "domain_name", "is_disabled", "is_application", "holds_service_role"}),
	{"reasons": owner_reasons(owner)},
)

# reassign_target_text names whom to reassign to: the application user when it exists.
default reassign_target_text := "the Work 365 application user"

reassign_target_text := sprintf("the Work 365 application user %s", [app_user_label(app_user)]) if {
	app_user
	not deleted(app_user)
}
