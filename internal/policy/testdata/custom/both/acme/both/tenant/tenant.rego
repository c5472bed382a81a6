# METADATA
# title: A tenant-scoped rule that can both deny and be not applicable
# description: >-
#   It denies every environment of the tenant by name, and declares the retired ones not applicable by name.
# custom:
#   id: ACME.BOTH.2
#   severity: high
#   remediation: None.
#   scope: tenant
package acme.both.tenant

not_applicable contains {"environment_id": env.id, "reason": "Acme does not audit retired environments."} if {
	some env in input.tenant.environments
	startswith(env.name, "Retired")
}

deny contains {"environment_id": env.id, "message": sprintf("Acme denies %s.", [env.name]), "evidence": {"name": env.name}} if {
	some env in input.tenant.environments
}
