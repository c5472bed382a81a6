# METADATA
# title: A rule that can both deny and be not applicable
# description: >-
#   It denies every environment, and declares the retired ones not applicable: for those the engine sees both
#   decisions and must report not_applicable.
# custom:
#   id: ACME.BOTH.1
#   severity: high
#   remediation: None.
package acme.both.environment

not_applicable contains "Acme does not audit retired environments." if startswith(input.environment.name, "Retired")

deny contains {"message": sprintf("Acme denies %s.", [input.environment.name]), "evidence": {"name": input.environment.name}}
