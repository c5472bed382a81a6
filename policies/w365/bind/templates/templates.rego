# METADATA
# title: No email templates are bound to a retired account
# description: >-
#   Checks that no email template of the environment is owned by a disabled user or by a
#   retired human service account (a person still holding a Work 365 role). The guide's
#   troubleshooting warns that after a human "service" account is retired, email templates
#   still bound to it can stop Work 365's portal invitations and emails. Fails when any such
#   template exists; the message lists each template title with its owner and why the owner is
#   flagged. Not applicable when the environment has no Dataverse database, was skipped, or
#   does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/create-templates-email
#     description: Create templates for email
# custom:
#   id: W365.BIND.2
#   severity: medium
#   guide: "Troubleshooting: Portal invitations/emails stop sending"
#   remediation: >-
#     In Dynamics 365 open Advanced settings → Templates → Email Templates, select each listed
#     template → Actions → Assign, and assign it to the Work 365 application user or a team.
#   automatic: false
#   opt_in: reassign-owners
#   scope: environment
package w365.bind.templates

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

# flagged holds when an email template has a flagged owner; it is checked before the sorted list and the
# finding are built, which most environments never need.
flagged if {
	some tpl in lib.dv.email_templates
	lib.flagged_owner(tpl.owner)
}

flagged_templates := lib.sort_by(
	[tpl | some tpl in lib.dv.email_templates; lib.flagged_owner(tpl.owner)],
	"title",
)

template_labels := [sprintf("%q owned by %s", [tpl.title, lib.owner_label(tpl.owner)]) | some tpl in flagged_templates]

deny contains result if {
	lib.applicable
	flagged
	result := lib.fail_manual(
		sprintf(
			"%d email template(s) are owned by a disabled user or a retired human service account: %s.",
			[count(flagged_templates), concat(", ", template_labels)],
		),
		{"email_templates": [object.union(
			object.filter(tpl, {"id", "title", "is_personal"}),
			{"owner": lib.owner_evidence(tpl.owner)},
		) |
			some tpl in flagged_templates
		]},
		"Reassign the email templates to the application user or a team",
		[
			sprintf("In Dynamics 365 for %q open Advanced settings → Templates → Email Templates.", [lib.env.name]),
			sprintf("Select %s → Actions → Assign, and assign them to %s or a team.", [lib.quoted_list([tpl.title | some tpl in flagged_templates]), lib.reassign_target_text]),
			"Send a test portal invitation to confirm that Work 365 emails go out again.",
		],
	)
}
