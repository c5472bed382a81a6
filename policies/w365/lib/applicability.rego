# Applicability: whether an environment-scoped rule has something to judge, the reasons why not, and
# which environment types are production.
package w365.lib

# production holds for every environment type that is not a known non-production one (policy data
# non_production_types: Sandbox, Developer, Trial). The Default environment, which Microsoft calls a
# production environment, an empty type and types this policy does not know are production: a gate that lets
# what it does not recognise through is no gate.
production(type) if not lower(type) in _non_production_types

# regal ignore:prefer-set-or-object-rule
_non_production_types := {lower(t) | some t in config.non_production_types}

# _dataverse_read holds when the environment was read completely and has a Dataverse organization.
_dataverse_read if {
	env.status == "ok"
	is_object(dv)
}

# base_not_applicable holds the reasons shared by all environment-scoped rules.
base_not_applicable contains "The environment has no Dataverse database." if {
	is_object(env)
	not env.has_dataverse
}

base_not_applicable contains _skip_reason if {
	env.has_dataverse
	env.status == "skipped"
}

base_not_applicable contains "Work 365 is not installed." if {
	_dataverse_read
	not dv.work365.installed
}

default _skip_reason := "The environment was skipped during collection."

_skip_reason := env.skip_reason if env.skip_reason != ""

# applicable holds when an environment-scoped rule has something to judge.
applicable if {
	_dataverse_read
	count(base_not_applicable) == 0
}

# no_app_user_reason is the not-applicable reason of the rules about the application user.
no_app_user_reason := "No Work 365 application user exists (see W365.APPUSER.1)."

# not_configured_reason is the not-applicable reason of the rules about the service user.
not_configured_reason := "The Work 365 service-user setting is not configured (see W365.SERVICE.1)."
