package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

// goldenDir holds one report per format of a scan of the demo tenants through the whole code path, refreshed
// with go test ./cmd/audit -update. internal/report has its own goldens, rendered from a fixed report.
const goldenDir = "testdata/golden"

// emulatorPort matches the emulator's loopback address, whose port changes from run to run.
var emulatorPort = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// normalize masks what a run cannot keep stable: the emulator's port in instance URLs and error messages.
func normalize(s string) string {
	return emulatorPort.ReplaceAllString(s, "127.0.0.1:PORT")
}

// demoFiles are the files of every format of the demo: the table as printed, saved as report.txt, and the files
// the other formats write.
var demoFiles = []string{"report.txt", "report.json", "report.html", "report.sarif", "report.xml", "report.csv", "report.md", "inventory.csv"}

// runDemoReports runs the demo (both demo tenants, the demo waivers) with every format into a new directory,
// at 80 columns and with the test clock, and returns the directory and the table it printed.
func runDemoReports(t *testing.T) (string, string) {
	t.Helper()
	h := newHarness(t, emulator.Options{})
	h.g.termWidth = 80
	out := filepath.Join(h.dir, "reports")
	code := h.run(append([]string{"demo", "--config", "../../testdata/tenants/demo-config.yaml",
		"--format", "table,json,html,sarif,junit,csv,markdown,inventory", "--output", out}, tenantFlags(demoFixtures)...)...)
	require.Equal(t, exitOK, code, h.stderr.String())
	return out, h.stdout.String()
}

func TestReportsOfTheDemoTenantsMatchTheGoldenFiles(t *testing.T) {
	t.Parallel()
	out, table := runDemoReports(t)
	require.NoError(t, os.WriteFile(filepath.Join(out, "report.txt"), []byte(table), 0o600))
	for _, name := range demoFiles {
		raw, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err, name)
		got := normalize(string(raw))
		golden := filepath.Join(goldenDir, name)
		if *update {
			require.NoError(t, os.MkdirAll(goldenDir, 0o755))
			require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(golden)
		require.NoError(t, err, "run go test ./cmd/audit -run TestReportsOfTheDemoTenantsMatchTheGoldenFiles -update")
		if got != string(want) {
			t.Errorf("%s differs from %s (review the change and refresh it with -update):\n%s", name, golden, firstDifference(string(want), got))
		}
	}
	// The golden JSON is a valid report, and the table fits 80 columns.
	raw, err := os.ReadFile(filepath.Join(goldenDir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, report.ValidateJSON(raw))
	for _, line := range strings.Split(table, "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 80, line)
	}
}

// firstDifference shows the first line where two texts differ, with its neighbours.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return "(no difference by line)"
}

// Two runs of the same scan give byte-identical reports once the emulator's port is masked: nothing else
// in them depends on the run.
func TestReportsAreStableFromRunToRun(t *testing.T) {
	t.Parallel()
	a, tableA := runDemoReports(t)
	b, tableB := runDemoReports(t)
	assert.Equal(t, normalize(tableA), normalize(tableB))
	for _, name := range demoFiles[1:] {
		ra, err := os.ReadFile(filepath.Join(a, name))
		require.NoError(t, err)
		rb, err := os.ReadFile(filepath.Join(b, name))
		require.NoError(t, err)
		assert.Equal(t, normalize(string(ra)), normalize(string(rb)), name)
	}
}

func TestAnUnknownFormatIsAUsageErrorListingTheKnownOnes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	out := filepath.Join(h.dir, "out")
	for _, args := range [][]string{
		{"scan", "--config", h.cfgPath, "--format", "table,pdf", "--output", out},
		{"evaluate", "../../testdata/none.json", "--format", "pdf"},
		{"demo", "--format", "json,PDF"},
	} {
		assert.Equal(t, exitUsage, h.run(args...), args)
		assert.Contains(t, h.stderr.String(), `unknown format "`, args)
		assert.Contains(t, h.stderr.String(), "known formats are csv, html, inventory, json, junit, markdown, sarif, table", args)
		assert.Empty(t, h.stdout.String(), args)
	}
	assert.NoDirExists(t, out, "nothing is collected or written before the arguments are checked")
	assert.Zero(t, h.server("contoso").Stats().Requests)

	assert.Equal(t, exitUsage, h.run("scan", "--config", h.cfgPath, "--format", "json,html", "--output", "-"))
	assert.Contains(t, h.stderr.String(), "--output - writes one format to standard output, but 2 were asked (json,html)")
}

func TestOutputDashWritesOneFormatToStandardOutput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	for _, format := range []string{"json", "sarif", "markdown"} {
		code := h.run("scan", "--config", h.cfgPath, "--format", format, "--output", "-", "--env", "Contoso Production")
		require.Equal(t, exitOK, code, h.stderr.String())
		out := h.stdout.String()
		switch format {
		case "json":
			require.NoError(t, report.ValidateJSON([]byte(out)))
		case "sarif":
			var log struct {
				Version string `json:"version"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &log))
			assert.Equal(t, "2.1.0", log.Version)
		case "markdown":
			assert.True(t, strings.HasPrefix(out, "# Work 365 compliance audit: contoso, fabrikam\n"), out)
		}
		assert.NotContains(t, h.stderr.String(), "wrote ", "no file is written")
	}
	entries, err := os.ReadDir(h.dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotEqual(t, defaultReportDir, e.Name())
	}
}

func TestColourOnlyOnATerminalAndNeverWithNoColor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	scan := []string{"scan", "--config", h.cfgPath, "--format", "table", "--output", h.dir, "--env", "Contoso Legacy"}

	h.run(scan...)
	assert.NotContains(t, h.stdout.String(), "\x1b[", "standard output is not a terminal")

	h.g.stdoutTTY = true
	h.run(scan...)
	assert.Contains(t, h.stdout.String(), "\x1b[31mFAIL\x1b[0m")

	getenv := h.g.getenv
	h.g.getenv = func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return getenv(k)
	}
	h.run(scan...)
	assert.Contains(t, h.stdout.String(), "FAIL")
	assert.NotContains(t, h.stdout.String(), "\x1b[")
}
