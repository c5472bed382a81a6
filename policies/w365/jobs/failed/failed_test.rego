package w365.jobs.failed_test

import data.w365.jobs.failed
import data.w365.lib.testing as t

job(id, name, message, created) := {
	"id": id,
	"name": name,
	"message": message,
	"error_code": -2147220891,
	"created_on": created,
	"completed_on": created,
	"owner_id": "user-app-us",
}

invoice_job := job("job-1", "Work 365 Invoice Generation", "The user is disabled.", "2025-01-14T06:00:00Z")

sync_job := job("job-2", "Work 365 Subscription Sync", "Principal user is missing prvReadw365_subscription privilege.", "2025-01-15T06:00:00Z")

renewal_job := job("job-3", "Work 365 Renewals", "", "2025-01-13T06:00:00Z")

old_job := job("job-4", "Work 365 Usage Import", "Timeout.", "2025-01-09T06:00:00Z")

with_failures(n, recent) := t.with_dv({"failed_jobs": {
	"lookback_days": 7,
	"since": "2025-01-08T00:00:00Z",
	"count": n,
	"recent": recent,
}})

test_pass_without_failed_jobs if {
	count(failed.deny) == 0 with input as t.compliant
	count(failed.not_applicable) == 0 with input as t.compliant
}

test_fail_gives_count_window_and_newest_jobs if {
	inp := with_failures(12, [invoice_job, renewal_job, sync_job, old_job])
	failed.deny == {{
		"message": "12 Work 365 background job(s) failed in the last 7 days; most recent: \"Work 365 Subscription Sync\" (Principal user is missing prvReadw365_subscription privilege.), \"Work 365 Invoice Generation\" (The user is disabled.), \"Work 365 Renewals\".",
		"evidence": {
			"count": 12,
			"lookback_days": 7,
			"since": "2025-01-08T00:00:00Z",
			"jobs": [
				object.remove(sync_job, {"owner_id"}),
				object.remove(invoice_job, {"owner_id"}),
				object.remove(renewal_job, {"owner_id"}),
				object.remove(old_job, {"owner_id"}),
			],
		},
		"actions": [{
			"action": "manual",
			"title": "Re-select the service user, clear the Work 365 cache and confirm both roles",
			"steps": [
				"In Dynamics 365 for \"Contoso Production\" open Work 365 → Admin Hub → Administration → Change Service User, re-select the Application User \"# Work 365\" (US App ID e4b1a995-abe3-4350-a61c-65fccd32e8bd) as the Service Account and choose Proceed.",
				"From the same menu choose Clear Cache.",
				"Open the application user (Dynamics 365 → Users, Application Users view → Manage Roles) and confirm that both \"Work 365 Service\" and \"Work 365 Portal Service\" remain assigned.",
				"In Work 365 → Admin Hub, confirm that the scheduled jobs run without errors (failed recently: \"Work 365 Invoice Generation\", \"Work 365 Renewals\", \"Work 365 Subscription Sync\", \"Work 365 Usage Import\").",
			],
		}],
	}} with input as inp
}

test_fail_shortens_long_job_messages if {
	long := job("job-9", "Work 365 Sync", concat("", ["x" | some _ in numbers.range(1, 200)]), "2025-01-14T06:00:00Z")
	some result in failed.deny with input as with_failures(1, [long])
	result.message == sprintf("1 Work 365 background job(s) failed in the last 7 days; most recent: \"Work 365 Sync\" (%s…).", [concat("", ["x" | some _ in numbers.range(1, 160)])])
	count(result.evidence.jobs[0].message) == 200
}

test_fail_without_job_details if {
	inp := t.with_dv({"failed_jobs": {"lookback_days": 0, "count": 2, "recent": null}})
	some result in failed.deny with input as inp
	result.message == "2 Work 365 background job(s) failed in the last 7 days."
	result.evidence == {"count": 2, "lookback_days": 7, "since": "", "jobs": []}
	result.actions[0].steps[3] == "In Work 365 → Admin Hub, confirm that the scheduled jobs run without errors."
}

test_fail_without_app_user_still_gives_the_steps if {
	inp := t.with_dv({
		"application_users": [],
		"failed_jobs": {"lookback_days": 14, "count": 1, "recent": [invoice_job]},
	})
	some result in failed.deny with input as inp
	startswith(result.message, "1 Work 365 background job(s) failed in the last 14 days;")
	startswith(result.actions[0].steps[0], "In Dynamics 365 for \"Contoso Production\" open Work 365 → Admin Hub → Administration → Change Service User, re-select the Application User as the Service Account")
}

test_not_applicable_when_work365_not_installed if {
	failed.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(failed.deny) == 0 with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	failed.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
}

test_quiet_on_a_collection_error if {
	count(failed.deny) == 0 with input as t.collection_error
	count(failed.not_applicable) == 0 with input as t.collection_error
}

test_quiet_when_lists_are_null if {
	count(failed.deny) == 0 with input as t.null_lists
}

test_pass_when_failed_jobs_were_not_read if {
	inp := {"environment": t.shallow(t.environment, {"dataverse": object.remove(t.dataverse, {"failed_jobs"})})}
	count(failed.deny) == 0 with input as inp
	count(failed.not_applicable) == 0 with input as inp
}
