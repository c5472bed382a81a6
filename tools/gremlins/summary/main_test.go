package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixJSON is gremlins' output for a package whose files come in an order that is not sorted.
const fixJSON = `{"go_module":"github.com/work365/audit","files":[
{"file_name":"undo.go","mutations":[
 {"type":"CONDITIONALS_NEGATION","status":"LIVED","line":40,"column":9},
 {"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":41,"column":3}]},
{"file_name":"apply.go","mutations":[
 {"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":120,"column":5},
 {"type":"CONDITIONALS_NEGATION","status":"LIVED","line":9,"column":12},
 {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":10,"column":2},
 {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":11,"column":2},
 {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":12,"column":2},
 {"type":"INCREMENT_DECREMENT","status":"TIMED OUT","line":30,"column":4},
 {"type":"INVERT_NEGATIVES","status":"NOT VIABLE","line":31,"column":4}]}],
"test_efficacy":50,"mutations_coverage":85.7,"elapsed_time":61.5}`

const emptyJSON = `{"go_module":"github.com/work365/audit","files":[],"elapsed_time":0.2}`

func TestTallyCountsEachStatusAndComputesTheRatesAsGremlinsDoes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "internal-fix.json"), []byte(fixJSON), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "internal-api.json"), []byte(emptyJSON), 0o600))

	tests := []struct {
		pkg                                            string
		killed, lived, notCovered, timedOut, notViable int
		efficacy, coverage                             float64
	}{
		{"internal/fix", 3, 3, 1, 1, 1, 50, 600.0 / 7},
		{"internal/api", 0, 0, 0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			t.Parallel()
			got, err := read(dir, tc.pkg)
			require.NoError(t, err)
			assert.Equal(t, tc.killed, got.Killed)
			assert.Equal(t, tc.lived, got.Lived)
			assert.Equal(t, tc.notCovered, got.NotCovered)
			assert.Equal(t, tc.timedOut, got.TimedOut)
			assert.Equal(t, tc.notViable, got.NotViable)
			assert.InDelta(t, tc.efficacy, got.Efficacy(), 1e-9)
			assert.InDelta(t, tc.coverage, got.Coverage(), 1e-9)
		})
	}
}

func TestRunPrintsOneRowPerPackageAndListsTheMutantsThatLivedInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "internal-fix.json"), []byte(fixJSON), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "internal-api.json"), []byte(emptyJSON), 0o600))
	lived := filepath.Join(dir, "lived.txt")

	var out bytes.Buffer
	require.NoError(t, run([]string{"-lived", lived, dir, "internal/fix", "internal/api"}, &out))

	assert.Equal(t, ""+
		"package       killed  lived  not covered  timed out  efficacy %  mutant coverage %    time\n"+
		"internal/fix       3      3            1          1        50.0               85.7     62s\n"+
		"internal/api       0      0            0          0         0.0                0.0      0s\n",
		out.String())
	b, err := os.ReadFile(lived)
	require.NoError(t, err)
	assert.Equal(t, ""+
		"internal/fix/apply.go:9:12 CONDITIONALS_NEGATION\n"+
		"internal/fix/apply.go:120:5 CONDITIONALS_BOUNDARY\n"+
		"internal/fix/undo.go:40:9 CONDITIONALS_NEGATION\n",
		string(b))
}

func TestRunFailsOnMissingOrBrokenResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "internal-fix.json"), []byte("{"), 0o600))

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no package", []string{dir}, "usage"},
		{"missing file", []string{dir, "internal/policy"}, "read results of internal/policy"},
		{"broken JSON", []string{dir, "internal/fix"}, "decode results of internal/fix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(tc.args, &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
