// Package glob matches the shell-style patterns users give to select environments, rules, waivers' objects and
// fix steps. Unlike path.Match, "*" matches any characters, "/" included: environment names are free text
// ("R&D/Lab"), not paths, and a pattern like "*Lab*" must catch them. Matching ignores case, and a pattern that
// equals the name (ignoring case) always matches, so a name with "[", "\" or "*" in it can be given as it is.
package glob

import (
	"errors"
	"path"
	"strings"
)

// slash stands for "/" while path.Match runs, so that its "*" (which stops at "/") crosses it. It is a
// noncharacter, which no name holds.
const slash = "\uFFFF"

// Match reports whether name matches pattern: "*" any run of characters, "?" one character, "[a-z]" a class
// ("[^…]" negated), "\" escapes the next character; case is ignored.
func Match(pattern, name string) bool {
	if strings.EqualFold(pattern, name) {
		return true
	}
	ok, err := path.Match(fold(pattern), fold(name))
	return err == nil && ok
}

// Valid reports a pattern that cannot match anything because it is malformed (an unclosed "[" class, a
// trailing "\"). Match treats such a pattern as a literal name.
func Valid(pattern string) error {
	if _, err := path.Match(fold(pattern), ""); err != nil {
		return errors.New("malformed pattern (an unclosed [ class, or a \\ at the end): write it as the literal name, or escape [ as \\[")
	}
	return nil
}

func fold(s string) string { return strings.ReplaceAll(strings.ToLower(s), "/", slash) }

// Any reports whether any of the values matches any of the patterns; no patterns match everything.
func Any(patterns []string, values ...string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		for _, v := range values {
			if Match(p, v) {
				return true
			}
		}
	}
	return false
}
