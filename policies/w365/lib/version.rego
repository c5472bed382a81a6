# Versions: dotted Work 365 versions and how they compare.
package w365.lib

# version_numbers parses a dotted version ("3.5.1.0") into numbers; undefined when it is not one.
version_numbers(v) := [to_number(p) | some p in split(trim_space(v), ".")] if {
	is_string(v)
	regex.match(`^\s*[0-9]+(\.[0-9]+)*\s*$`, v)
}

# _version_key is a dotted version as numbers without its trailing zero components ("3.5.0.0" → [3, 5]).
# Rego orders arrays element by element and a prefix first, so keys compare as versions do: missing
# components count as 0 and components compare as numbers.
_version_key(v) := [to_number(p) | some p in split(regex.replace(trim_space(v), `(\.0+)+$`, ""), ".")] if {
	is_string(v)
	regex.match(`^\s*[0-9]+(\.[0-9]+)*\s*$`, v)
}

# version_at_least compares numerically per dotted component, missing components being 0:
# "3.10.0.0" ≥ "3.5", "3.5.0.0" ≥ "3.5", "3.4.9" < "3.5".
version_at_least(v, minimum) if _version_key(v) >= _version_key(minimum)

# installed_version is the version of the Work 365 solution ("" when it has none).
installed_version := object.get(dv.work365, "version", "")

# installed_version_ok holds when the installed version is at least the policy's minimum; computed once per
# evaluation for every rule that asks.
installed_version_ok if _version_key(installed_version) >= minimum_version_key

# minimum_version_key is the policy's minimum version as a version key. It reads only the policy data, so the
# engine computes it once per load (internal/policy checks that it does, by this name).
minimum_version_key := _version_key(config.min_version)
