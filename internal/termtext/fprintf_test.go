package termtext

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

type name string

type stringer struct{}

func (stringer) String() string { return "st\x1b[2Jr" }

func TestFprintfCleansItsArgumentsAndKeepsItsFormat(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	Fprintf(&b, "\x1b[1m%s|%q|%v|%s|%s|%d\x1b[0m\n", "a\x1b]0;t\x07b", name("c\u009b31md"), []string{"e\u202ef"}, errors.New("g\r\nh"), stringer{}, 7)
	assert.Equal(t, "\x1b[1mab|\"cd\"|[ef]|g h|str|7\x1b[0m\n", b.String(), "the format's own escape codes and newline stay")
}
