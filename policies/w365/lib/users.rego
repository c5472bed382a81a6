# Users: the Work 365 application users, the service-user setting, and how users are named in messages.
package w365.lib

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

# _first_by_id picks the user with the smallest id, so that a choice among several is stable.
_first_by_id(users) := users[0] if {
	count(users) == 1
} else := users[pairs[0][1]] if {
	pairs := sort([[u.id, j] | some j, u in users])
}

# live_app_user is the non-deleted application user of an App ID.
live_app_user(id) := _first_by_id([u | some u in app_users; app_id(u) == id; not deleted(u)])

# _deleted_app_user is a soft-deleted application user of an App ID.
_deleted_app_user(id) := _first_by_id([u | some u in app_users; app_id(u) == id; deleted(u)])

# expected_app_user is the application user of the region's App ID: the non-deleted one,
# else a soft-deleted leftover.
expected_app_user := u if {
	u := live_app_user(expected_app_id)
} else := u if {
	u := _deleted_app_user(expected_app_id)
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
	u := _first_by_id([x | some x in app_users; x.id == service_user_id])
} else := u if {
	u := live_app_user(expected_app_id)
} else := u if {
	u := _first_by_id([x | some x in app_users; not deleted(x)])
} else := u if {
	u := _deleted_app_user(expected_app_id)
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

# app_user_label names a Work 365 application user with its data centre: `"# Work 365" (US App ID …)`.
app_user_label(user) := sprintf(
	"%q (%s App ID %s)",
	[object.get(user, "full_name", user.id), _geo_of_app_id(app_id(user)), app_id(user)],
)

# missing_service_user_text names the user id a dangling service-user setting points to.
default missing_service_user_text := "a user"

missing_service_user_text := sprintf("user id %s", [id]) if {
	id := object.get(dv.service_user, "user_id", "")
	id != ""
}
