package w365.bind.templates_test

import data.w365.bind.templates
import data.w365.lib.testing as t

retired_owner := {
	"id": "user-jane",
	"name": "Jane Doe",
	"domain_name": "jane@contoso.com",
	"is_disabled": false,
	"is_application": false,
	"holds_service_role": true,
}

invitation := {"id": "tpl-1", "title": "Work 365 Portal Invitation", "is_personal": false, "owner": retired_owner}

reminder := {"id": "tpl-2", "title": "Invoice Reminder", "is_personal": true, "owner": t.shallow(retired_owner, {"is_disabled": true})}

test_pass_without_flagged_templates if {
	count(templates.deny) == 0 with input as t.compliant
	count(templates.not_applicable) == 0 with input as t.compliant
}

test_pass_when_the_owner_is_active_and_holds_no_work365_role if {
	active := t.shallow(invitation, {"owner": t.shallow(retired_owner, {"holds_service_role": false})})
	count(templates.deny) == 0 with input as t.with_dv({"email_templates": [active]})
}

test_fail_lists_template_titles_and_owners if {
	inp := t.with_dv({"email_templates": [invitation, reminder]})
	templates.deny == {{
		"message": "2 email template(s) are owned by a disabled user or a retired human service account: \"Invoice Reminder\" owned by \"Jane Doe\" (jane@contoso.com; disabled; human account holding a Work 365 role), \"Work 365 Portal Invitation\" owned by \"Jane Doe\" (jane@contoso.com; human account holding a Work 365 role).",
		"evidence": {"email_templates": [
			{
				"id": "tpl-2",
				"title": "Invoice Reminder",
				"is_personal": true,
				"owner": object.union(retired_owner, {"is_disabled": true, "reasons": ["disabled", "human account holding a Work 365 role"]}),
			},
			{
				"id": "tpl-1",
				"title": "Work 365 Portal Invitation",
				"is_personal": false,
				"owner": object.union(retired_owner, {"reasons": ["human account holding a Work 365 role"]}),
			},
		]},
		"actions": [{
			"action": "manual",
			"title": "Reassign the email templates to the application user or a team",
			"steps": [
				"In Dynamics 365 for \"Contoso Production\" open Advanced settings → Templates → Email Templates.",
				"Select \"Invoice Reminder\", \"Work 365 Portal Invitation\" → Actions → Assign, and assign them to the Work 365 application user \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) or a team.",
				"Send a test portal invitation to confirm that Work 365 emails go out again.",
			],
		}],
	}} with input as inp
}

test_not_applicable_when_work365_not_installed if {
	templates.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(templates.deny) == 0 with input as t.not_installed
}

test_not_applicable_when_skipped if {
	templates.not_applicable == {"The environment is disabled."} with input as t.skipped
}

test_quiet_on_a_collection_error if {
	count(templates.deny) == 0 with input as t.collection_error
	count(templates.not_applicable) == 0 with input as t.collection_error
}

test_quiet_when_lists_are_null if {
	count(templates.deny) == 0 with input as t.null_lists
}

# System-managed users (SYSTEM, INTEGRATION) are disabled by design and own out-of-box templates.
test_pass_when_templates_are_owned_by_system_managed_users if {
	system := {"id": "user-system", "name": "SYSTEM", "domain_name": "", "is_disabled": true, "is_application": false, "holds_service_role": false}
	integration := t.shallow(system, {"id": "user-integration", "name": "INTEGRATION"})
	inp := t.with_dv({"email_templates": [
		{"id": "tpl-1", "title": "Case Created", "is_personal": false, "owner": system},
		{"id": "tpl-2", "title": "Order Confirmation", "is_personal": false, "owner": integration},
	]})
	count(templates.deny) == 0 with input as inp
}

# A disabled person who happens to be called SYSTEM is still flagged: system-managed users have no Entra identity.
test_fail_when_a_disabled_person_named_system_owns_a_template if {
	impostor := {"id": "user-x", "name": "System", "domain_name": "system@contoso.com", "object_id": "11111111-2222-4333-8444-555555555555", "is_disabled": true, "is_application": false, "holds_service_role": false}
	some result in templates.deny with input as t.with_dv({"email_templates": [{"id": "tpl-1", "title": "Welcome", "is_personal": false, "owner": impostor}]})
	result.evidence.email_templates[0].owner.reasons == ["disabled"]
}
