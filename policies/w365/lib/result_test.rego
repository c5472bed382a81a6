package w365.lib_test

import data.w365.lib

test_fail_is_the_finding_the_engine_reads if {
	lib.fail("Something is wrong.", {"id": "x"}, [{"action": "clear_cache"}]) == {
		"message": "Something is wrong.",
		"evidence": {"id": "x"},
		"actions": [{"action": "clear_cache"}],
	}
}

test_fail_keeps_an_empty_list_of_actions if {
	lib.fail("Something is wrong.", {}, []) == {"message": "Something is wrong.", "evidence": {}, "actions": []}
}

test_fail_manual_has_one_manual_action if {
	lib.fail_manual("Something is wrong.", {"id": "x"}, "Fix it", ["Open the portal.", "Fix it."]) == {
		"message": "Something is wrong.",
		"evidence": {"id": "x"},
		"actions": [{"action": "manual", "title": "Fix it", "steps": ["Open the portal.", "Fix it."]}],
	}
}

test_fail_is_undefined_when_a_part_is if {
	findings := [f | f := lib.fail("Something is wrong.", {}, input.actions)] with input as {}
	findings == []
}

test_passing_carries_message_and_evidence_only if {
	lib.passing("Held through a team.", {"role": "r"}) == {"message": "Held through a team.", "evidence": {"role": "r"}}
}

test_tenant_decisions_name_their_environment if {
	finding := lib.fail("Something is wrong.", {}, [])
	lib.for_environment("env-1", finding) == {
		"environment_id": "env-1",
		"message": "Something is wrong.",
		"evidence": {},
		"actions": [],
	}
	lib.not_applicable_to("env-2", "Not production.") == {"environment_id": "env-2", "reason": "Not production."}
}
