# Owners of flows, connection references and email templates: which owners are flagged, and how they are named.
package w365.lib

# flagged_owner holds when an owner is disabled, or is a person holding a Work 365 role
# (a retired human "service account"). System-managed users are disabled by design and own out-of-box
# records; they are not flagged.
flagged_owner(owner) if {
	owner.is_disabled == true
	not _builtin_owner(owner)
}

flagged_owner(owner) if {
	owner.holds_service_role == true
	not owner.is_application == true
}

# _builtin_owner holds for the system-managed users every organization has, such as SYSTEM and INTEGRATION
# (learn.microsoft.com/power-platform/admin/system-application-users): a name from policy data builtin_users,
# no application ID and no Microsoft Entra object ID. Microsoft documents no column that marks them, so the
# name alone is not enough (undocumented: our choice).
_builtin_owner(owner) if {
	upper(owner.name) in _builtin_user_names
	not owner.is_application == true
	object.get(owner, "object_id", "") == ""
}

# regal ignore:prefer-set-or-object-rule
_builtin_user_names := {upper(n) | some n in config.builtin_users}

_owner_reasons(owner) := array.concat(
	["disabled" | owner.is_disabled == true],
	["human account holding a Work 365 role" | owner.holds_service_role == true; not owner.is_application == true],
)

# owner_label names an owner with why it is flagged: `"Jane Doe" (jane@contoso.com; disabled)`.
owner_label(owner) := sprintf("%q (%s)", [owner.name, concat("; ", array.concat(domain, _owner_reasons(owner)))]) if {
	domain := [owner.domain_name | owner.domain_name != ""]
}

owner_evidence(owner) := object.union(
	object.filter(owner, {"id", "name", "domain_name", "is_disabled", "is_application", "holds_service_role"}),
	{"reasons": _owner_reasons(owner)},
)

# reassign_target_text names whom to reassign to: the application user when it exists.
default reassign_target_text := "the Work 365 application user"

reassign_target_text := sprintf("the Work 365 application user %s", [app_user_label(app_user)]) if {
	app_user
	not deleted(app_user)
}
