# Evidence: the shapes application users, users and the service-user setting take in evidence.
package w365.lib

# app_user_evidence describes an application user in evidence.
app_user_evidence(user) := {
	"id": user.id,
	"full_name": object.get(user, "full_name", ""),
	"app_id": app_id(user),
	"geo": _geo_of_app_id(app_id(user)),
	"is_disabled": object.get(user, "is_disabled", false),
	"deleted_state": object.get(user, "deleted_state", 0),
}

# user_evidence describes any user (person or application) in evidence.
user_evidence(user) := {
	"id": user.id,
	"full_name": object.get(user, "full_name", ""),
	"domain_name": object.get(user, "domain_name", ""),
	"app_id": app_id(user),
	"is_application": _is_application_value(user),
	"is_licensed": object.get(user, "is_licensed", false),
	"is_disabled": object.get(user, "is_disabled", false),
	"deleted_state": object.get(user, "deleted_state", 0),
}

_is_application_value(user) if {
	is_application(user)
} else := false

# service_user_evidence describes the service-user setting and the user it points to.
service_user_evidence := {
	"configured": object.get(setting, "configured", false),
	"setting_id": object.get(setting, "setting_id", ""),
	"user_id": object.get(setting, "user_id", ""),
	"user": _service_user_summary,
} if {
	setting := object.get(dv, "service_user", {})
}

default _service_user_summary := null

_service_user_summary := user_evidence(service_user_account) if service_user_account

# expected_app_id_or_null is the region's App ID for evidence, null when the region is unmapped.
default expected_app_id_or_null := null

expected_app_id_or_null := expected_app_id if region_mapped
