# METADATA
# title: No flows or connection references are bound to a retired account
# description: >-
#   Checks that no cloud flow (Power Automate) and no connection reference of the environment
#   is owned by a disabled user or by a retired human service account (a person still holding
#   a Work 365 role). The guide's troubleshooting warns that after a human "service" account
#   is retired, Power Automate connections still bound to it stop portal invitations and
#   emails: flows run as their owner and connection references use their owner's connections.
#   Fails when any such flow or connection reference exists; the message lists each one with its
#   owner and why the owner is flagged. Not applicable when the environment has no Dataverse
#   database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-automate/change-cloud-flow-owner
#     description: Change the owner of a cloud flow
#   - ref: https://learn.microsoft.com/power-apps/maker/data-platform/create-connection-reference
#     description: Use a connection reference in a solution
# custom:
#   id: W365.BIND.1
#   severity: medium
#   guide: "Troubleshooting: Portal invitations/emails stop sending"
#   remediation: >-
#     In Power Apps (https://make.powerapps.com) select the environment. For each listed cloud
#     flow open Solutions (or Cloud flows), select the flow → Edit details → Owner and reassign it
#     to the Work 365 application user or a team, re-creating its connections under an active
#     account. For each listed connection reference open Solutions → Connection references,
#     select it → Edit, pick a connection of an active account and reassign its owner.
#   automatic: false
#   opt_in: reassign-owners
#   scope: environment
package w365.bind.flows

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

# flagged holds when a flow or a connection reference has a flagged owner; it is checked before the
# sorted lists and the finding are built, which most environments never need.
flagged if {
	some f in lib.dv.flows
	lib.flagged_owner(f.owner)
}

flagged if {
	some r in lib.dv.connection_references
	lib.flagged_owner(r.owner)
}

flagged_flows := lib.sort_by([f | some f in lib.dv.flows; lib.flagged_owner(f.owner)], "name")

flagged_references := lib.sort_by(
	[r | some r in lib.dv.connection_references; lib.flagged_owner(r.owner)],
	"logical_name",
)

deny contains result if {
	lib.applicable
	flagged
	result := lib.fail_manual(
		sprintf(
			"%s owned by a disabled user or a retired human service account: %s.",
			[counts_text, concat(", ", array.concat(flow_labels, reference_labels))],
		),
		{
			"flows": [flow_evidence(f) | some f in flagged_flows],
			"connection_references": [reference_evidence(r) | some r in flagged_references],
		},
		"Reassign the flows and connection references to the application user or a team",
		array.flatten([
			sprintf("Open Power Apps (https://make.powerapps.com) and select the environment %q.", [lib.env.name]),
			flow_steps,
			reference_steps,
		]),
	)
}

flow_labels := [sprintf("cloud flow %q owned by %s", [f.name, lib.owner_label(f.owner)]) | some f in flagged_flows]

reference_labels := [sprintf("connection reference %s owned by %s", [reference_label(r), lib.owner_label(r.owner)]) |
	some r in flagged_references
]

flow_evidence(flow) := object.union(
	object.filter(flow, {"id", "name", "state"}),
	{"owner": lib.owner_evidence(flow.owner)},
)

reference_evidence(ref) := object.union(
	object.filter(ref, {"id", "logical_name", "display_name", "connector_id"}),
	{"owner": lib.owner_evidence(ref.owner)},
)

counts_text := sprintf("%d cloud flow(s) and %d connection reference(s) are", [count(flagged_flows), count(flagged_references)]) if {
	count(flagged_flows) > 0
	count(flagged_references) > 0
} else := sprintf("%d cloud flow(s) are", [count(flagged_flows)]) if {
	count(flagged_flows) > 0
} else := sprintf("%d connection reference(s) are", [count(flagged_references)])

reference_label(ref) := sprintf("%q (%s)", [ref.display_name, ref.logical_name]) if {
	ref.display_name != ""
	ref.display_name != ref.logical_name
} else := sprintf("%q", [ref.logical_name])

default flow_steps := []

flow_steps := [sprintf(
	"Open Solutions (or Cloud flows) → each of %s → Edit details → Owner, and reassign it from its current owner to %s or a team; re-create its connections under an active account and turn it back on.",
	[lib.quoted_list([f.name | some f in flagged_flows]), lib.reassign_target_text],
)] if {
	count(flagged_flows) > 0
}

default reference_steps := []

reference_steps := [sprintf(
	"Open Solutions → Connection references → each of %s → Edit, pick a connection that belongs to an active account instead of the flagged owner's, and reassign the connection reference to %s or a team.",
	[concat(", ", [reference_label(r) | some r in flagged_references]), lib.reassign_target_text],
)] if {
	count(flagged_references) > 0
}
