package w365.lib_test

import data.w365.lib

test_version_with_more_components_is_at_least_the_minimum if {
	lib.version_at_least("3.5.0.0", "3.5")
	lib.version_at_least("3.5", "3.5.0.0")
}

test_version_components_compare_as_numbers if {
	lib.version_at_least("3.10", "3.5")
	lib.version_at_least("3.10.0.0", "3.5")
	not lib.version_at_least("3.5", "3.10")
}

test_older_versions_are_below_the_minimum if {
	not lib.version_at_least("3.4.9.9", "3.5")
	not lib.version_at_least("2.99", "3.5")
	not lib.version_at_least("3", "3.5")
}

test_newer_major_version_is_at_least_the_minimum if {
	lib.version_at_least("4.0", "3.5")
	lib.version_at_least(" 3.6.1.0 ", "3.5")
}

test_unparsable_versions_are_never_at_least_the_minimum if {
	not lib.version_at_least("", "3.5")
	not lib.version_at_least("3.5-beta", "3.5")
	not lib.version_at_least("v3.5", "3.5")
	not lib.version_at_least(null, "3.5")
	not lib.version_at_least("3.5", "latest")
}

test_version_numbers_parse_dotted_versions if {
	lib.version_numbers("3.05.1.0") == [3, 5, 1, 0]
	lib.version_numbers(" 10.0.100.0 ") == [10, 0, 100, 0]
	lib.version_numbers("0.0") == [0, 0]
}

test_version_keys_drop_trailing_zero_components if {
	lib._version_key("3.5.0.0") == [3, 5]
	lib._version_key("3.05.10.00") == [3, 5, 10]
	lib._version_key(" 3.0.1.0 ") == [3, 0, 1]
	lib._version_key("0.0") == [0]
	lib._version_key("100") == [100]
}

test_zero_components_compare_as_numbers if {
	lib.version_at_least("3.5.0.1", "3.5")
	lib.version_at_least("3.0", "3")
	lib.version_at_least("3", "3.0.0")
	not lib.version_at_least("3.0.0", "3.0.1")
	lib.version_at_least("0.0", "0")
}
