// Package termtext makes text that audit did not write itself (names, messages and URLs from a tenant or a
// Microsoft API) safe to print on a terminal: such text must not move the cursor, clear the screen, set the
// window title, hide a link behind other words, or reorder what an administrator reads.
package termtext

import (
	"strings"
	"unicode/utf8"
)

// Clean returns s as one line of plain text: escape sequences (CSI, OSC and the other ECMA-48 control
// strings, with their parameters and payload) are removed whole, other C0 and C1 control characters and DEL
// are removed, tabs and line breaks become a space, Unicode bidirectional controls are removed, and each run
// of bytes that is not UTF-8 becomes U+FFFD. Printable text, whatever its script, is kept as it is.
func Clean(s string) string { return clean(s, false) }

// CleanLines is Clean for text whose line breaks are meant: it keeps "\n" (and turns "\r\n" and a lone "\r",
// which would let later text overwrite a line, into "\n").
func CleanLines(s string) string { return clean(s, true) }

const (
	esc = 0x1b
	bel = 0x07
	// C1 introducers and the string terminator, as runes (UTF-8 encodes each in two bytes).
	dcs = 0x90
	sos = 0x98
	csi = 0x9b
	st  = 0x9c
	osc = 0x9d
	pm  = 0x9e
	apc = 0x9f
)

func clean(s string, lines bool) string {
	if isClean(s, lines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			// One U+FFFD for a run of invalid bytes: a lone 0x9b would be CSI to a terminal not reading UTF-8.
			for i < len(s) {
				if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
					break
				}
				i++
			}
			b.WriteRune(utf8.RuneError)
			continue
		case r == esc:
			i = skipEscape(s, i+size)
			continue
		case r == csi:
			i = skipCSI(s, i+size)
			continue
		case r == dcs || r == sos || r == osc || r == pm || r == apc:
			i = skipString(s, i+size)
			continue
		case r == '\r' || r == '\n':
			if r == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				size++
			}
			if lines {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case isSpace(r):
			b.WriteByte(' ')
		case drop(r):
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isClean reports whether clean would return s unchanged, so that the common case allocates nothing.
func isClean(s string, lines bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c == '\n' && lines {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || isSpace(r) || drop(r) {
			return false
		}
		i += size
	}
	return true
}

// isSpace reports whether r separates words or lines; it becomes a space, so that words do not run together.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x85, 0x2028, 0x2029: // NEL, LINE and PARAGRAPH SEPARATOR
		return true
	}
	return false
}

// drop reports whether r is removed: a control character, or a bidirectional control that could make a
// terminal show text in another order than it is stored (embeddings, overrides, isolates and marks).
func drop(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// skipEscape returns the index after the escape sequence whose ESC ends at i (ECMA-48 §5.3): CSI, a control
// string, or ESC with intermediate bytes and a final byte. A lone ESC is skipped alone.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_': // OSC, DCS, SOS, PM, APC
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f:
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e:
		return i + 1
	}
	return i
}

// skipCSI returns the index after the parameter, intermediate and final bytes of a control sequence whose
// introducer ends at i.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString returns the index after a control string (OSC, DCS, SOS, PM, APC) whose introducer ends at i,
// terminated by BEL, ESC \ or ST. Without a terminator only the introducer is skipped: the rest is shown
// (cleaned) rather than a whole message hidden.
func skipString(s string, i int) int {
	for j := i; j < len(s); j++ {
		switch {
		case s[j] == bel:
			return j + 1
		case s[j] == esc && j+1 < len(s) && s[j+1] == '\\':
			return j + 2
		case s[j] == 0xc2 && j+1 < len(s) && s[j+1] == st:
			return j + 2
		}
	}
	return i
}
