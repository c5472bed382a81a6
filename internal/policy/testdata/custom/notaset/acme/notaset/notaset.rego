# METADATA
# title: A rule whose deny is not a set
# description: Its deny is a string, which the engine refuses.
# custom:
#   id: ACME.NOTASET.1
#   severity: low
#   remediation: None.
package acme.notaset

deny := "a string"
