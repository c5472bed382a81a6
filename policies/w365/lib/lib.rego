# Shared helpers of the Work 365 rules.
#
# Every rule reads one environment of the snapshot (input.environment, the JSON of
# snapshot.Environment) and the policy data (data.w365.config). The package w365.lib answers
# the questions all rules ask; its files split it by topic:
#
#   applicability.rego  whether an environment-scoped rule has something to judge, and why not
#   regions.rego        which data-centre geo and Work 365 App ID apply to the environment
#   users.rego          the Work 365 application users, the service user, and how users are named
#   roles.rego          the Work 365 roles and which roles a user holds, directly or through teams
#   version.rego        how two Work 365 versions compare
#   owners.rego         the owners of flows, connection references and email templates
#   actions.rego        the remediation actions (docs/policy-contract.md §5)
#   evidence.rego       the shapes users and settings take in evidence
#   lists.rego          lists and their rendering in messages
#   result.rego         the findings and other decisions rules return, built in one place
#
# Helpers whose name starts with an underscore are internal to the library: the rules and policies of your
# own use the others. Rules that read only the policy data are complete rules (`x := {…}`), not partial ones
# (`x contains …`): the engine computes the complete rules that do not read the input once per load
# (docs/policy-contract.md §4.4), hence the `regal ignore:prefer-set-or-object-rule` directives.
#
# Nothing here may raise an evaluation error, whatever the input: environments that could
# not be read (status "error"), that were skipped, or whose lists are null all evaluate to
# "undefined" rather than to an error.
package w365.lib

# The environment under evaluation, its Dataverse organization (absent when nothing was
# read) and the policy data.
env := input.environment

dv := env.dataverse

config := data.w365.config
