package w365.lib_test

import data.w365.lib

test_sort_by_orders_by_key_then_id if {
	lib.sort_by([{"id": "2", "name": "b"}, {"id": "3", "name": "a"}, {"id": "1", "name": "b"}], "name") == [
		{"id": "3", "name": "a"},
		{"id": "1", "name": "b"},
		{"id": "2", "name": "b"},
	]
}

test_quoted_list_quotes_each_name if {
	lib.quoted_list(["a", "b \"c\""]) == "\"a\", \"b \\\"c\\\"\""
}
