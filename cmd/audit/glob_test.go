package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
)

// Environment names are free text: "/", "[" and "&" appear in real ones. Patterns given on the command line,
// in the config's include/exclude lists and in waivers select them the same way, with "*" crossing "/".
func TestEnvironmentPatternsMatchNamesWithSlashesAndBrackets(t *testing.T) {
	t.Parallel()
	raw := mustRead(t, "../../testdata/tenants/minimal.yaml")
	raw = strings.Replace(raw, "  - name: Contoso Sandbox\n", "  - name: R&D/Lab\n", 1)
	raw = strings.Replace(raw, "  - name: Contoso Teams\n", "  - name: Ops [old]\n", 1)
	fixture := filepath.Join(t.TempDir(), "names.yaml")
	require.NoError(t, os.WriteFile(fixture, []byte(raw), 0o600))
	h := newHarness(t, emulator.Options{}, fixture)
	base := mustRead(t, h.cfgPath)

	scanned := func(args ...string) []string {
		t.Helper()
		out := t.TempDir()
		code := h.run(append([]string{"scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet"}, args...)...)
		require.Contains(t, []int{exitOK, exitFailing, exitUnaudited}, code, h.stderr.String())
		var names []string
		for _, e := range readReport(t, out).Environments {
			names = append(names, e.Name)
		}
		sort.Strings(names)
		return names
	}

	all := scanned()
	require.Equal(t, []string{"Contoso Production", "Ops [old]", "R&D/Lab"}, all)
	assert.Equal(t, []string{"R&D/Lab"}, scanned("--env", "*Lab*"), "'*' crosses '/'")
	assert.Equal(t, []string{"R&D/Lab"}, scanned("--env", "r&d/*"))
	assert.Equal(t, []string{"Ops [old]"}, scanned("--env", "Ops [old]"), "a name with brackets is given as it is")

	require.NoError(t, os.WriteFile(h.cfgPath, []byte(strings.Replace(base, "    bap_scope:",
		"    environments:\n      exclude: [\"*Lab*\", \"ops \\\\[old\\\\]\"]\n    bap_scope:", 1)), 0o600))
	assert.Equal(t, []string{"Contoso Production"}, scanned(), "config exclusions with '/' and escaped brackets")

	// A waiver for every rule in R&D/Lab waives its failures and nothing elsewhere.
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(base+`waivers:
  - rule: "W365.*"
    environment: "*/lab"
    reason: Lab environment, rebuilt weekly
    owner: ops@contoso.onmicrosoft.com
    expires: 2027-06-30
`), 0o600))
	out := t.TempDir()
	h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--quiet")
	r := readReport(t, out)
	waived := map[string]bool{}
	for _, res := range r.Results {
		if res.Status == "waived" {
			waived[res.EnvironmentName] = true
		}
		if res.EnvironmentName == "R&D/Lab" {
			assert.NotEqual(t, "fail", res.Status, res.RuleID)
		}
	}
	assert.Equal(t, map[string]bool{"R&D/Lab": true}, waived)
}
