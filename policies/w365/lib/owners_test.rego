package w365.lib_test

import data.w365.lib

test_builtin_owners_need_the_name_and_no_identity if {
	lib._builtin_owner({"name": "SYSTEM", "is_application": false})
	lib._builtin_owner({"name": "integration", "is_application": false, "object_id": ""})
	not lib._builtin_owner({"name": "SYSTEM", "is_application": false, "object_id": "11111111-2222-4333-8444-555555555555"})
	not lib._builtin_owner({"name": "SYSTEM", "is_application": true})
	not lib._builtin_owner({"name": "Jane Doe", "is_application": false})
	not lib.flagged_owner({"name": "SYSTEM", "is_disabled": true, "is_application": false})
}
