package main

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// .ci/run is what CI runs: a syntax error there fails every build before a test runs, so it is checked here.
func TestTheCIScriptIsValidBash(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("bash", "-n", "../../.ci/run").CombinedOutput()
	require.NoError(t, err, "bash -n .ci/run: %s", out)
}
