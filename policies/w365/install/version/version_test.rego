package w365.install.version_test

import data.w365.install.version
import data.w365.lib.testing as t

installed(v) := t.with_dv({"work365": {"installed": true, "unique_name": "Work365", "version": v}})

test_pass_when_version_is_the_minimum if {
	count(version.deny) == 0 with input as installed("3.5.0.0")
	count(version.not_applicable) == 0 with input as installed("3.5.0.0")
}

test_pass_when_minor_version_has_two_digits if {
	count(version.deny) == 0 with input as installed("3.10")
}

test_pass_on_the_compliant_environment if {
	count(version.deny) == 0 with input as t.compliant
}

test_fail_when_version_is_below_the_minimum if {
	version.deny == {{
		"message": "Work 365 3.4.2.0 is installed; application-user support needs version 3.5 or later.",
		"evidence": {"version": "3.4.2.0", "minimum": "3.5"},
		"actions": [{
			"action": "manual",
			"title": "Upgrade Work 365 to 3.5 or later",
			"steps": [
				"In the Power Platform admin center (https://admin.powerplatform.microsoft.com) open Environments → \"Contoso Production\" → Resources → Dynamics 365 apps.",
				"Select Work 365 and choose Update; if no update is offered, follow Work 365's upgrade path for version 3.5 or later.",
				"Check that the Work 365 solution in \"Contoso Production\" now reports version 3.5 or later, then run the audit again.",
			],
		}],
	}} with input as installed("3.4.2.0")
}

test_fail_when_version_is_unparsable if {
	some result in version.deny with input as installed("3.5-preview")
	result.message == "The installed Work 365 version \"3.5-preview\" is not a dotted version number; version 3.5 or later is required."
	result.evidence == {"version": "3.5-preview", "minimum": "3.5"}
}

test_fail_when_version_was_not_read if {
	inp := t.with_dv({"work365": {"installed": true}})
	some result in version.deny with input as inp
	result.message == "Work 365 is installed but its version could not be read; version 3.5 or later is required."
	result.evidence.version == ""
}

test_minimum_comes_from_policy_data if {
	cfg := object.union(data.w365.config, {"min_version": "3.12"})
	some result in version.deny with input as installed("3.10.1.0") with data.w365.config as cfg
	result.message == "Work 365 3.10.1.0 is installed; application-user support needs version 3.12 or later."
	result.actions[0].title == "Upgrade Work 365 to 3.12 or later"
}

test_fail_names_a_broken_minimum if {
	cfg := object.union(data.w365.config, {"min_version": "three"})
	some result in version.deny with input as t.compliant with data.w365.config as cfg
	result.message == "The policy data min_version \"three\" is not a dotted version number; correct it in the audit configuration."
}

test_not_applicable_when_work365_not_installed if {
	version.not_applicable == {"Work 365 is not installed."} with input as t.not_installed
	count(version.deny) == 0 with input as t.not_installed
}

test_not_applicable_without_dataverse if {
	version.not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	count(version.deny) == 0 with input as t.no_dataverse
}

test_not_applicable_when_skipped if {
	version.not_applicable == {"The environment is disabled."} with input as t.skipped
}

test_quiet_on_a_collection_error if {
	count(version.deny) == 0 with input as t.collection_error
	count(version.not_applicable) == 0 with input as t.collection_error
}
