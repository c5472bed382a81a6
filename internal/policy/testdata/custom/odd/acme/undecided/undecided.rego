# METADATA
# title: A rule whose deny is undefined
# description: Its deny is a complete rule that never gets a value, so the engine has no decision.
# custom:
#   id: ACME.UNDECIDED.1
#   severity: low
#   remediation: None.
package acme.undecided

deny := set() if input.environment.id == "no such environment"
