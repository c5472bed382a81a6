package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

test_role_held_from_own_business_unit if {
	lib.holds_role_in_own_bu(t.app_user, "Work 365 Service")
}

test_role_held_from_another_business_unit_is_not_from_its_own if {
	user := t.shallow(t.app_user, {"business_unit": t.sales_bu})
	lib.holds_role(user, "Work 365 Service")
	not lib.holds_role_in_own_bu(user, "Work 365 Service")
}

test_role_counts_by_name_when_the_business_unit_is_unknown if {
	user := object.remove(t.app_user, {"business_unit"})
	lib.holds_role_in_own_bu(user, "Work 365 Service")
	not lib.holds_role_in_own_bu(user, "System Administrator")
}

test_null_roles_hold_nothing if {
	not lib.holds_role(t.shallow(t.app_user, {"roles": null}), "Work 365 Service")
}

test_holds_directly_and_teams_granting if {
	user := t.shallow(t.app_user, {"roles": [t.portal_role, t.via(t.service_role, t.ops_team), t.via(t.service_role, {"id": "team-b", "name": "Billing", "type": 2})]})
	lib.holds_role(user, "Work 365 Service")
	not lib._holds_directly(user, "Work 365 Service")
	lib._holds_directly(user, "Work 365 Portal Service")
	lib._teams_granting(user, "Work 365 Service") == ["Billing", "Work 365 Operators"]
	lib.role_source(t.via(t.service_role, t.ops_team)) == " through team \"Work 365 Operators\""
	lib.role_source(t.service_role) == ""
}
