package glob

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStarMatchesAnyCharacterSlashIncluded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*Lab*", "R&D/Lab", true},
		{"*lab*", "R&D/LAB (old)", true},
		{"R&D/*", "R&D/Lab/2", true},
		{"*/Lab", "R&D/Lab", true},
		{"Contoso ?", "Contoso 1", true},
		{"Contoso ?", "Contoso /", true},
		{"Bench 00[0-4]?", "Bench 0042", true},
		{"Bench 00[0-4]?", "Bench 0052", false},
		{"Bench 00[^0-4]?", "Bench 0052", true},
		// Names with the pattern characters in them, given as they are.
		{"Lab [old]", "Lab [old]", true},
		{"Ops\\Lab", "Ops\\Lab", true},
		{"Lab [old", "lab [old", true},
		{"*[old*", "Lab [old", false}, // a malformed pattern matches only as its literal self
		{"Lab \\[old\\]", "Lab [old]", true},
		{"Finance *", "Finance  EU", true},
		{"W365.ROLES.*", "w365.roles.3", true},
		{"W365.ROLES.*", "W365.SERVICE.1", false},
		{"*", "", true},
		{"Contoso", "Contoso Prod", false},
	} {
		assert.Equal(t, tc.want, Match(tc.pattern, tc.name), "%q ~ %q", tc.pattern, tc.name)
	}
}

func TestValidAndAny(t *testing.T) {
	t.Parallel()
	assert.NoError(t, Valid("R&D/*"))
	assert.Error(t, Valid("Lab [old"))
	assert.Error(t, Valid("trailing\\"))
	assert.True(t, Any(nil, "x"))
	assert.True(t, Any([]string{"a*", "*/Lab"}, "zz", "R&D/Lab"))
	assert.False(t, Any([]string{"a*"}, "b", "c"))
}
