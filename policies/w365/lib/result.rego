# Results: the decisions rules return (docs/policy-contract.md §3 and §4.2). Every rule builds its findings
# with these functions rather than by hand, so that the shape the engine reads lives here alone.
#
#   deny contains result if {
#   	…the condition, and the message bound first…
#   	result := lib.fail(message, evidence, actions)
#   }
package w365.lib

# fail is a finding: the message names the concrete objects, the evidence is structured and deterministic,
# and the actions are the remediation in the order to apply them (§5).
fail(message, evidence, actions) := {"message": message, "evidence": evidence, "actions": actions}

# fail_manual is a finding whose remediation is one manual action: its title and its ordered steps.
fail_manual(message, evidence, title, steps) := fail(message, evidence, [action_manual(title, steps)])

# passing is the pass_info of a passing rule: why it passes where that is not obvious.
passing(message, evidence) := {"message": message, "evidence": evidence}

# for_environment names the environment a tenant-scoped finding is about (§4.2).
for_environment(id, finding) := object.union(finding, {"environment_id": id})

# not_applicable_to is a tenant-scoped rule's not-applicable decision about one environment (§4.2).
not_applicable_to(id, reason) := {"environment_id": id, "reason": reason}
