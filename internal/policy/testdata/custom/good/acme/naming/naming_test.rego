package acme.naming_test

import data.acme.naming

test_fail_when_named_otherwise if {
	count(naming.deny) == 1 with input as {"environment": {"status": "ok", "has_dataverse": true, "region": "unitedstates",
		"dataverse": {"work365": {"installed": true}, "application_users": [{"id": "1", "full_name": "Billing",
			"application_id": "e4b1a995-abe3-4350-a61c-65fccd32e8bd", "access_mode": 4, "deleted_state": 0, "roles": []}],
			"service_user": {"configured": false}}}}
}
