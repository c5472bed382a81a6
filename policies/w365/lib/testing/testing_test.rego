# Input fixtures shared by the rule tests: a compliant US production environment and
# helpers that replace parts of it. The file name ends in _test.rego so that the engine
# leaves it out of the policy bundle, like the tests themselves.
package w365.lib.testing

us_app_id := "e4b1a995-abe3-4350-a61c-65fccd32e8bd"

eu_app_id := "5e56ae97-9be1-40d3-938b-99ea52175a30"

root_bu := {"id": "bu-root", "name": "contoso"}

sales_bu := {"id": "bu-sales", "name": "Sales"}

service_role := {"id": "role-service-root", "name": "Work 365 Service", "business_unit_id": "bu-root"}

portal_role := {"id": "role-portal-root", "name": "Work 365 Portal Service", "business_unit_id": "bu-root"}

sysadmin_role := {"id": "role-sysadmin-root", "name": "System Administrator", "business_unit_id": "bu-root"}

basic_role := {"id": "role-basic-root", "name": "Basic User", "business_unit_id": "bu-root"}

# ops_team is an owner team of the root business unit through which members hold roles.
ops_team := {"id": "team-ops", "name": "Work 365 Operators", "type": 0}

# via(role, team) is a role held through a team.
via(role, team) := object.union(role, {"team": team})

# app_user is the compliant Work 365 application user of the US data centre.
app_user := {
	"id": "user-app-us",
	"full_name": "# Work 365",
	"application_id": us_app_id,
	"access_mode": 4,
	"is_disabled": false,
	"is_licensed": false,
	"deleted_state": 0,
	"business_unit": root_bu,
	"roles": [portal_role, service_role],
}

eu_app_user := shallow(app_user, {"id": "user-app-eu", "full_name": "# Work 365 EU", "application_id": eu_app_id})

# person is the legacy licensed human service account.
person := {
	"id": "user-jane",
	"full_name": "Jane Doe",
	"domain_name": "jane@contoso.com",
	"email": "jane@contoso.com",
	"access_mode": 0,
	"is_disabled": false,
	"is_licensed": true,
	"deleted_state": 0,
	"business_unit": root_bu,
	"roles": [service_role],
}

dataverse := {
	"organization_id": "org-1",
	"root_business_unit": root_bu,
	"work365": {"installed": true, "unique_name": "Work365", "version": "3.5.2.0", "managed": true},
	"application_users": [app_user],
	"service_user": service_user_pointing_to(app_user),
	"service_role_holders": [],
	"failed_jobs": {"lookback_days": 7, "since": "2025-01-08T00:00:00Z", "count": 0, "recent": []},
	"flows": [],
	"connection_references": [],
	"email_templates": [],
}

environment := {
	"id": "env-prod",
	"name": "Contoso Production",
	"type": "Production",
	"region": "unitedstates",
	"has_dataverse": true,
	"status": "ok",
	"dataverse": dataverse,
}

# compliant is an input on which every environment-scoped rule passes.
compliant := {"environment": environment}

service_user_pointing_to(user) := {"configured": true, "setting_id": "setting-1", "user_id": user.id, "user": user}

# shallow replaces top-level fields of an object (object.union would merge nested objects).
shallow(obj, fields) := object.union(object.remove(obj, object.keys(fields)), fields)

# with_dv is the compliant input with some Dataverse fields replaced.
with_dv(fields) := {"environment": shallow(environment, {"dataverse": shallow(dataverse, fields)})}

# with_env is the compliant input with some environment fields replaced.
with_env(fields) := {"environment": shallow(environment, fields)}

# The inputs on which every environment-scoped rule is not applicable.
no_dataverse := {"environment": object.remove(shallow(environment, {"has_dataverse": false}), {"dataverse"})}

skipped := {"environment": object.remove(
	shallow(environment, {"status": "skipped", "skip_reason": "The environment is disabled."}),
	{"dataverse"},
)}

not_installed := with_dv({"work365": {"installed": false}})

# collection_error is an environment that could not be read; rules must stay quiet on it.
collection_error := {"environment": object.remove(
	shallow(environment, {"status": "error", "error": {"stage": "systemusers", "message": "403"}}),
	{"dataverse"},
)}

# null_lists is a Dataverse read where Go wrote every empty list as null.
null_lists := with_dv({
	"application_users": null,
	"service_role_holders": null,
	"flows": null,
	"connection_references": null,
	"email_templates": null,
	"service_user": {"configured": false},
	"failed_jobs": {"lookback_days": 7, "count": 0, "recent": null},
})
