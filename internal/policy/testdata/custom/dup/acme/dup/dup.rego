# METADATA
# title: A rule that reuses an embedded ID
# custom:
#   id: W365.ROLES.1
#   severity: low
package acme.dup

deny contains "always" if false
