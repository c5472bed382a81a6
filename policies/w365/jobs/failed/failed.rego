# METADATA
# title: No Work 365 background jobs failed recently
# description: >-
#   Checks that no Work 365 system job (asyncoperation) failed in the lookback window of the
#   policy data (lookback_days, 7 days by default). The guide's post-setup validation is to
#   confirm in the Admin Hub that scheduled jobs run without errors, and its troubleshooting
#   names failing background jobs as the typical symptom of a service-user switch that did
#   not take, or of a service account that lost a role or was disabled. Fails when the count of
#   failed jobs in the window is above zero; the message gives the count, the window and the
#   newest failures with their error messages. Not applicable when the environment has no
#   Dataverse database, was skipped, or does not have Work 365 installed.
# related_resources:
#   - ref: https://learn.microsoft.com/power-apps/developer/data-platform/asynchronous-service
#     description: Asynchronous service (system jobs) in Dataverse
# custom:
#   id: W365.JOBS.1
#   severity: high
#   guide: "Troubleshooting: Background jobs fail after the switch"
#   remediation: >-
#     In Dynamics 365 open Work 365 → Admin Hub → Administration → Change Service User,
#     re-select the Application User and choose Proceed, then Clear Cache from the same menu.
#     Confirm that the application user still holds both Work 365 Service and Work 365 Portal
#     Service, then confirm in the Admin Hub that the scheduled jobs run without errors.
#   automatic: false
#   opt_in: ""
#   scope: environment
package w365.jobs.failed

import data.w365.lib

not_applicable contains reason if some reason in lib.base_not_applicable

# shown is how many of the newest failures the message quotes.
shown := 3

# message_limit keeps quoted job messages (often stack traces) readable.
message_limit := 160

default job_summary := {}

job_summary := lib.dv.failed_jobs if is_object(lib.dv.failed_jobs)

window := days if {
	days := job_summary.lookback_days
	days > 0
} else := lib.config.lookback_days

# jobs are the recent failures, newest first.
jobs := [recent[i] | some key in array.reverse(sort(keys)); i := key[2]] if {
	recent := lib.list(job_summary, "recent")
	keys := [[object.get(j, "created_on", ""), object.get(j, "id", ""), i] | some i, j in recent]
}

deny contains result if {
	lib.applicable
	failed := object.get(job_summary, "count", 0)
	failed > 0
	result := lib.fail_manual(
		sprintf("%d Work 365 background job(s) failed in the last %d days%s.", [failed, window, newest_text]),
		{
			"count": failed,
			"lookback_days": window,
			"since": object.get(job_summary, "since", ""),
			"jobs": [job_evidence(j) | some j in jobs],
		},
		"Re-select the service user, clear the Work 365 cache and confirm both roles",
		[
			sprintf("In Dynamics 365 for %q open Work 365 → Admin Hub → Administration → Change Service User, re-select the Application User%s as the Service Account and choose Proceed.", [lib.env.name, app_user_text]),
			"From the same menu choose Clear Cache.",
			sprintf("Open the application user (Dynamics 365 → Users, Application Users view → Manage Roles) and confirm that both %q and %q remain assigned.", [lib.service_role, lib.portal_role]),
			sprintf("In Work 365 → Admin Hub, confirm that the scheduled jobs run without errors%s.", [job_names_text]),
		],
	)
}

default newest_text := ""

newest_text := sprintf("; most recent: %s", [concat(", ", [job_label(j) | some j in array.slice(jobs, 0, shown)])]) if {
	count(jobs) > 0
}

job_label(job) := sprintf("%q (%s)", [job.name, shorten(job.message)]) if {
	job.message != ""
} else := sprintf("%q", [object.get(job, "name", job.id)])

shorten(text) := sprintf("%s…", [substring(text, 0, message_limit)]) if {
	count(text) > message_limit
} else := text

job_evidence(job) := object.filter(job, {"id", "name", "message", "error_code", "created_on", "completed_on"})

default app_user_text := ""

app_user_text := sprintf(" %s", [lib.app_user_label(lib.app_user)]) if lib.app_user

default job_names_text := ""

job_names_text := sprintf(" (failed recently: %s)", [lib.quoted_list({j.name | some j in jobs})]) if {
	count(jobs) > 0
}
