package w365.service.not_human_test

import data.w365.lib.testing as t
import data.w365.service.not_human

pointing_to(user) := t.with_dv({"service_user": t.service_user_pointing_to(user)})

test_pass_when_the_service_user_is_an_application_user if {
	count(not_human.deny) == 0 with input as t.compliant
	count(not_human.not_applicable) == 0 with input as t.compliant
}

# Microsoft also gives ordinary people's accounts non-interactive access (mode 4): without an application ID the
# service user is still a person.
test_fail_when_the_service_user_is_a_non_interactive_person if {
	non_interactive := t.shallow(t.person, {"access_mode": 4})
	some result in not_human.deny with input as pointing_to(non_interactive)
	startswith(result.message, "The Work 365 service user is \"Jane Doe\" (jane@contoso.com), a licensed human account")
	result.evidence.is_application == false
}

test_fail_when_the_service_user_is_a_licensed_person if {
	not_human.deny == {{
		"message": "The Work 365 service user is \"Jane Doe\" (jane@contoso.com), a licensed human account: it consumes a Dynamics 365 license and ties Work 365's background operations to a person.",
		"evidence": {
			"id": "user-jane",
			"full_name": "Jane Doe",
			"domain_name": "jane@contoso.com",
			"app_id": "",
			"is_application": false,
			"is_licensed": true,
			"is_disabled": false,
			"deleted_state": 0,
		},
		"actions": [
			{"action": "set_service_user", "app_id": t.us_app_id},
			{"action": "clear_cache"},
		],
	}} with input as pointing_to(t.person)
}

test_fail_when_the_service_user_is_an_unlicensed_person if {
	some result in not_human.deny with input as pointing_to(t.shallow(t.person, {"is_licensed": false}))
	result.message == "The Work 365 service user is \"Jane Doe\" (jane@contoso.com), a human account (not licensed): it ties Work 365's background operations to a person, and they stop when that account is disabled."
	result.evidence.is_licensed == false
}

test_not_applicable_when_the_setting_is_not_configured if {
	inp := t.with_dv({"service_user": {"configured": false}})
	not_human.not_applicable == {"The Work 365 service-user setting is not configured (see W365.SERVICE.1)."} with input as inp
	count(not_human.deny) == 0 with input as inp
}

test_not_applicable_when_the_service_user_is_missing if {
	inp := t.with_dv({"service_user": {"configured": true, "user_id": "user-gone"}})
	not_human.not_applicable == {"The Work 365 service-user setting points to a user that does not exist (see W365.SERVICE.3)."} with input as inp
	count(not_human.deny) == 0 with input as inp
}

test_not_applicable_when_work365_not_installed if {
	not_human.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_quiet_on_a_collection_error if {
	count(not_human.deny) == 0 with input as t.collection_error
	count(not_human.not_applicable) == 0 with input as t.collection_error
}
