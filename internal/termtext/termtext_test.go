package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain ASCII is kept", "Contoso Production", "Contoso Production"},
		{"other scripts and symbols are kept", "Zürich – Ω 東京 🙂", "Zürich – Ω 東京 🙂"},
		{"an existing replacement character is kept", "a\uFFFDb", "a\uFFFDb"},
		{"empty", "", ""},
		{"C0 controls are removed", "a\x00b\x01c\x07d\x08e\x1af", "abcdef"},
		{"DEL is removed", "a\x7fb", "ab"},
		{"tab and line breaks become spaces", "a\tb\nc\rd\r\ne\vf\fg", "a b c d e f g"},
		{"NEL and the Unicode separators become spaces", "a\u0085b\u2028c\u2029d", "a b c d"},
		{"C1 controls are removed", "a\u0080b\u0084c\u008dd\u009ae", "abcde"},
		{"clear screen", "Prod\x1b[2Juction", "Production"},
		{"colour with parameters", "\x1b[1;31mRED\x1b[0m", "RED"},
		{"private-mode CSI", "a\x1b[?25lb", "ab"},
		{"CSI with intermediate byte", "a\x1b[1 qb", "ab"},
		{"single-byte CSI U+009B", "\u009b31mred\u009b0m", "red"},
		{"OSC title ended by BEL", "\x1b]0;pwned\x07Contoso", "Contoso"},
		{"OSC title ended by ESC \\", "\x1b]2;pwned\x1b\\Contoso", "Contoso"},
		{"OSC title ended by C1 ST", "\x1b]2;pwned\u009cContoso", "Contoso"},
		{"C1 OSC", "\u009d0;pwned\x07Contoso", "Contoso"},
		{"OSC 8 hyperlink keeps its text, not its target",
			"see \x1b]8;;https://evil.example/\x1b\\the docs\x1b]8;;\x1b\\ now", "see the docs now"},
		{"DCS ended by ST", "a\x1bP1$r\x1b\\b", "ab"},
		{"unterminated OSC shows its text without the introducer", "a\x1b]0;pwned", "a0;pwned"},
		{"two-byte escape (reset)", "a\x1bcb", "ab"},
		{"escape with intermediate (charset)", "a\x1b(Bb", "ab"},
		{"lone ESC at the end", "ab\x1b", "ab"},
		{"CSI cut short at the end", "ab\x1b[12", "ab"},
		{"right-to-left override", "admin\u202egnp.exe", "admingnp.exe"},
		{"all bidi embeddings, overrides, isolates and marks",
			"a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j\u200ek\u200fl\u061cm", "abcdefghijklm"},
		{"invalid UTF-8 becomes one replacement per run", "a\xffb\xfe\xfdc", "a\uFFFDb\uFFFDc"},
		{"a raw 0x9b byte is not CSI", "a\x9b31mb", "a\uFFFD31mb"},
		{"truncated UTF-8 at the end", "ab\xe2\x80", "ab\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Clean(tt.in)
			assert.Equal(t, tt.want, got)
			assertSafe(t, got, false)
		})
	}
}

func TestCleanLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"line feeds are kept", "first\nsecond\n", "first\nsecond\n"},
		{"CRLF becomes LF", "first\r\nsecond", "first\nsecond"},
		{"a lone CR cannot overwrite a line", "all good\rFAILED", "all good\nFAILED"},
		{"tabs become spaces", "a\tb", "a b"},
		{"escape sequences go as in Clean", "a\x1b[2J\nb\x1b]0;x\x07", "a\nb"},
		{"bidi controls go as in Clean", "a\u202e\nb\u2066", "a\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CleanLines(tt.in)
			assert.Equal(t, tt.want, got)
			assertSafe(t, got, true)
		})
	}
}

// Whatever comes in, nothing that steers a terminal comes out, and clean text is returned as it is.
func TestCleanNeverLetsAControlThrough(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	inputs := []string{all.String(), "\x1b\x1b[\x1b]\x1bP\u009b\u009d\x1b[\x1b]8;;\x1b", "\xc2", "\x1b]\xc2\x9c", strings.Repeat("\x1b[", 100)}
	for i, in := range inputs {
		for _, lines := range []bool{false, true} {
			got := clean(in, lines)
			assertSafe(t, got, lines)
			assert.Equal(t, got, clean(got, lines), "input %d: cleaning is idempotent", i)
		}
	}
}

func assertSafe(t *testing.T, s string, lines bool) {
	t.Helper()
	assert.True(t, utf8.ValidString(s), "%q is UTF-8", s)
	for _, r := range s {
		if r == '\n' && lines {
			continue
		}
		assert.False(t, r < 0x20 || (r >= 0x7f && r <= 0x9f), "%q holds control %U", s, r)
		assert.False(t, drop(r), "%q holds bidi control %U", s, r)
	}
}
