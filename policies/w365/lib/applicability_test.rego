package w365.lib_test

import data.w365.lib
import data.w365.lib.testing as t

test_compliant_environment_is_applicable if {
	lib.applicable with input as t.compliant
	count(lib.base_not_applicable) == 0 with input as t.compliant
}

test_not_applicable_without_dataverse if {
	lib.base_not_applicable == {"The environment has no Dataverse database."} with input as t.no_dataverse
	not lib.applicable with input as t.no_dataverse
}

test_not_applicable_with_the_skip_reason_when_skipped if {
	lib.base_not_applicable == {"The environment is disabled."} with input as t.skipped
}

test_skipped_without_reason_gets_a_generic_reason if {
	inp := {"environment": object.remove(t.skipped.environment, {"skip_reason"})}
	lib.base_not_applicable == {"The environment was skipped during collection."} with input as inp
}

test_not_applicable_when_work365_not_installed if {
	lib.base_not_applicable == {"Work 365 is not installed."} with input as t.not_installed
}

test_collection_error_is_neither_applicable_nor_not_applicable if {
	count(lib.base_not_applicable) == 0 with input as t.collection_error
	not lib.applicable with input as t.collection_error
	not lib._dataverse_read with input as t.collection_error
}

test_production_is_every_type_not_known_as_non_production if {
	lib.production("Production")
	lib.production("Default")
	lib.production("")
	lib.production("Teams")
	not lib.production("Sandbox")
	not lib.production("developer")
	not lib.production("Trial")
}
