# METADATA
# title: Work 365 changes can be validated in a sandbox first
# description: >-
#   For a production environment running Work 365, checks that its tenant also has a sandbox
#   environment with Work 365 installed whose critical rules all pass (or are waived or not
#   applicable), so that the switch to the application user and later changes are validated
#   there before production. The guide advises to validate the change in a sandbox before
#   production where feasible, and to generate a test invoice in a sandbox. Environment types
#   come from the policy data: production is every type that is not a known non-production one
#   (non_production_types: Sandbox, Developer, Trial), the Default environment and unknown types
#   included, as Microsoft calls the Default environment a production environment; sandboxes are
#   sandbox_types. This rule is evaluated once per
#   tenant after all environment-scoped rules, from the tenant's environment summaries and
#   their results. Fails when the tenant has no such sandbox; the message names the sandboxes
#   found and why none qualifies. Not applicable for environments that are not production, and
#   when the environment has no Dataverse database, was skipped, or does not have Work 365
#   installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-platform/admin/sandbox-environments
#     description: Manage sandbox environments
# custom:
#   id: W365.GOV.1
#   severity: low
#   guide: "Notes & Best Practices: Sandbox first"
#   remediation: >-
#     Keep a sandbox environment with Work 365 in the tenant (create one or copy production in
#     the Power Platform admin center → Environments), configure its application user as the
#     guide describes and fix it until its critical rules pass; validate changes and a test
#     invoice there before applying them to production.
#   automatic: false
#   opt_in: ""
#   scope: tenant
package w365.gov.sandbox_first

import data.w365.lib

# A tenant-scoped rule is evaluated once per tenant, after the environment-scoped rules, on input.tenant
# alone: the summaries of all its environments with their results. Its decisions name the environment they
# are about (environment_id), so the work of judging the tenant's sandboxes is done once, not once per
# production environment.

summaries := lib.list(input.tenant, "environments")

tenant_name := object.get(input.tenant, "name", "")

# passing statuses of a critical rule in a qualifying sandbox.
passing := {"pass", "not_applicable", "waived"}

# judged are the IDs of the production environments that run Work 365 and were read: the environments
# this rule decides on. One pass over the summaries finds them, so that the rest of the rule looks at each
# environment once.
judged contains s.id if {
	some s in summaries
	s.has_dataverse == true
	s.status == "ok"
	s.work365_installed == true
	lib.production(s.type)
}

not_applicable contains decision if {
	some s in summaries
	not s.id in judged
	decision := lib.not_applicable_to(s.id, not_applicable_reason(s))
}

# not_applicable_reason gives the reasons the environment-scoped rules give, and production's own; environments
# that could not be read are reported as errors by the engine.
not_applicable_reason(s) := sprintf("The environment type %q is not production (policy data non_production_types).", [object.get(s, "type", "")]) if {
	# The usual case first: a sandbox, trial or developer environment that was read and runs Work 365
	# (so none of the reasons below applies).
	s.has_dataverse
	s.status == "ok"
	s.work365_installed == true
	not lib.production(s.type)
} else := "The environment has no Dataverse database." if {
	not s.has_dataverse
} else := object.get(s, "skip_reason", "The environment was skipped during collection.") if {
	s.status == "skipped"
} else := "Work 365 is not installed." if {
	s.status == "ok"
	not s.work365_installed == true
}

# sandboxes lists the sandbox environments by name, for the findings.
sandboxes := lib.sort_by([s | some s in summaries; s.type in lib.config.sandbox_types], "name")

# qualifying are the IDs of the sandboxes in which changes can be validated.
qualifying := {s.id | some s in summaries; s.type in lib.config.sandbox_types; qualifies(s)}

failing_critical(sandbox) := lib.sort_by(
	[{"rule": id, "status": object.get(r, "status", "")} |
		some id, r in results_of(sandbox)
		r.severity == "critical"
		not object.get(r, "status", "") in passing
	],
	"rule",
)

# evaluated holds when the engine added the sandbox's results (a negated builtin call on an
# undefined reference would be undefined, not true, hence this helper).
evaluated(sandbox) if is_object(sandbox.results)

results_of(sandbox) := sandbox.results if {
	evaluated(sandbox)
} else := {}

# problem says why a sandbox does not qualify; undefined when it does.
problem(sandbox) := sprintf("not read: %s", [object.get(sandbox, "skip_reason", "skipped during collection")]) if {
	sandbox.status == "skipped"
} else := "Work 365 not installed" if {
	not sandbox.work365_installed == true
} else := sprintf("could not be audited: status %s", [sandbox.status]) if {
	object.get(sandbox, "status", "ok") != "ok"
} else := "not evaluated" if {
	not evaluated(sandbox)
} else := sprintf("critical rules not passing: %s", [concat(", ", [concat(" ", [f.rule, f.status]) | some f in failing])]) if {
	failing := failing_critical(sandbox)
	count(failing) > 0
}

# qualifies holds when a sandbox has no problem: it runs Work 365, was read and evaluated, and its critical
# rules pass. It is problem's negation, checked without building problem's text for every sandbox.
qualifies(sandbox) if {
	sandbox.work365_installed == true
	object.get(sandbox, "status", "ok") == "ok"
	evaluated(sandbox)
	not failing_a_critical_rule(sandbox)
}

# two_qualify holds when at least two sandboxes qualify; it stops at the second, where qualifying judges
# every sandbox.
two_qualify if {
	some a in summaries
	a.type in lib.config.sandbox_types
	qualifies(a)
	some b in summaries
	b.id != a.id
	b.type in lib.config.sandbox_types
	qualifies(b)
}

# qualifying_other_than holds when a sandbox other than the environment qualifies (production and sandbox
# types may overlap in the policy data); it stops at the first one.
qualifying_other_than(id) if {
	some q in qualifying
	q != id
}

failing_a_critical_rule(sandbox) if {
	some r in sandbox.results
	r.severity == "critical"
	not object.get(r, "status", "") in passing
}

deny contains result if {
	# With two qualifying sandboxes every production environment has another one: no need to look.
	not two_qualify
	some s in summaries
	s.id in judged
	not qualifying_other_than(s.id)
	others := [x | some x in sandboxes; x.id != s.id]
	result := lib.for_environment(s.id, lib.fail(
		message(others),
		{
			"tenant": {"id": object.get(input.tenant, "id", ""), "name": tenant_name},
			"sandbox_types": lib.config.sandbox_types,
			"sandboxes": [sandbox_evidence(x) | some x in others],
		},
		[sandbox_action(s, others)],
	))
}

message(others) := sprintf(
	"Tenant %q runs Work 365 in production but has no sandbox environment (types: %s) in which to validate changes first.",
	[tenant_name, concat(", ", lib.config.sandbox_types)],
) if {
	count(others) == 0
} else := sprintf(
	"Tenant %q runs Work 365 in production but none of its sandboxes qualifies to validate changes first: %s.",
	[tenant_name, concat("; ", [sprintf("%q (%s)", [name_of(x), problem(x)]) | some x in others])],
)

name_of(summary) := object.get(summary, "name", object.get(summary, "id", ""))

sandbox_evidence(sandbox) := {
	"id": object.get(sandbox, "id", ""),
	"name": name_of(sandbox),
	"type": sandbox.type,
	"status": object.get(sandbox, "status", ""),
	"work365_installed": object.get(sandbox, "work365_installed", false),
	"work365_version": object.get(sandbox, "work365_version", ""),
	"failing_critical": failing_critical(sandbox),
}

sandbox_action(env, others) := lib.action_manual(
	"Validate Work 365 changes in a sandbox first",
	[
		sprintf("Choose a sandbox of tenant %q for Work 365 (%s), or create one in the Power Platform admin center (https://admin.powerplatform.microsoft.com) → Environments → + New with type Sandbox, or copy %q into one (Environments → %q → Copy).", [tenant_name, existing_text(others), name_of(env), name_of(env)]),
		sprintf("Install Work 365 %s or later there and configure its application user as the guide describes.", [lib.config.min_version]),
		"Run the audit on the sandbox and fix it until its critical rules pass; generate a test invoice there to confirm end-to-end execution.",
		sprintf("Apply the change to %q afterwards: audit fix changes production only after a sandbox of the tenant passes, or with --allow-production.", [name_of(env)]),
	],
)

existing_text(others) := sprintf("existing: %s", [lib.quoted_list([name_of(x) | some x in others])]) if {
	count(others) > 0
} else := "none exists yet"
