# METADATA
# title: A rule without a severity
# custom:
#   id: ACME.BAD.1
package acme.bad

deny contains "always" if true
