package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/work365/audit/internal/emulator"
)

func TestProgressOnATerminalShowsEachEnvironmentWithCountsAndTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	scan := []string{"scan", "--config", h.cfgPath, "--format", "json", "--output", h.dir}

	h.run(scan...)
	assert.NotContains(t, h.stderr.String(), "collecting", "standard error is not a terminal")

	h.g.stderrTTY = true
	h.run(append(scan, "--quiet")...)
	assert.Empty(t, h.stderr.String(), "--quiet silences the progress")

	h.run(scan...)
	out := h.stderr.String()
	// One line per environment as it finishes, with its tenant, its outcome and how long it took.
	for _, want := range []string{
		`  ✓ Contoso Production \(contoso\)  read in [0-9.]+m?s\n`,
		`  ✗ Contoso Partner Portal \(contoso\)  could not be read in [0-9.]+m?s\n`,
		`  – Contoso \(default\) \(contoso\)  skipped in [0-9.]+m?s\n`,
		`  ✓ Fabrikam Sandbox \(fabrikam\)  read in [0-9.]+m?s\n`,
	} {
		assert.Regexp(t, regexp.MustCompile(want), stripColour(out))
	}
	// A status line with the counts, redrawn in place, and a closing line; the clock is the test's, so 0s.
	assert.Contains(t, out, "\r\x1b[2Kcollecting: 12/12 environments, 0 in progress, 1 could not be read · 0s")
	assert.Contains(t, out, "collected 12 environments in 0s: 9 read, 2 skipped, 1 could not be read\n")
	assert.Contains(t, out, "\x1b[32m✓\x1b[0m", "colour on a terminal")

	getenv := h.g.getenv
	h.g.getenv = func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return getenv(k)
	}
	h.run(scan...)
	assert.Contains(t, h.stderr.String(), "  ✓ Contoso Production (contoso)  read in ")
	assert.NotContains(t, stripCursor(h.stderr.String()), "\x1b[", "no colour with NO_COLOR")
}

var colourCodes = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func stripColour(s string) string { return colourCodes.ReplaceAllString(s, "") }

// stripCursor removes the line-clearing sequences of the status line, which are not colour.
func stripCursor(s string) string { return strings.ReplaceAll(s, "\x1b[2K", "") }
