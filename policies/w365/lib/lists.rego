# Lists: reading lists Go may write as null, ordering them and rendering them in messages.
package w365.lib

# list returns obj[key] when it is an array, else an empty array (Go writes nil slices as null).
list(obj, key) := obj[key] if {
	is_array(obj[key])
} else := []

# quoted_list renders names as `"a", "b"`.
quoted_list(names) := concat(", ", [sprintf("%q", [n]) | some n in names])

# sort_by orders objects by one key, then by id, so that evidence is deterministic. Lists of one or none
# (the usual case) are returned as they are.
sort_by(objs, key) := objs if {
	count(objs) < 2
} else := [objs[pair[2]] | some pair in sorted] if {
	sorted := sort([[object.get(o, key, ""), object.get(o, "id", ""), j] | some j, o in objs])
}
