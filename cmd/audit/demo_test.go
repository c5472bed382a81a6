package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/report"
)

// The demo travels with the binary: run from a directory with no testdata, as after go install, it serves the
// bundled demo tenants with their settings and writes its reports there. Not parallel: it changes the working
// directory of the process.
func TestDemoRunsFromAnyDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	g := &globals{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		now: func() time.Time { return testNow }, getenv: func(string) string { return "" }}
	require.Equal(t, exitOK, executeWith(context.Background(), g, []string{"demo"}), stderr.String())

	var rep report.Report
	require.NoError(t, json.Unmarshal([]byte(mustRead(t, filepath.Join(dir, defaultReportDir, "report.json"))), &rep))
	var tenants []string
	for _, tn := range rep.Tenants {
		tenants = append(tenants, tn.Name)
	}
	assert.Equal(t, []string{"contoso", "fabrikam"}, tenants)
	assert.Len(t, rep.Environments, 12)
	_, err := os.Stat(filepath.Join(dir, defaultReportDir, "report.html"))
	assert.NoError(t, err)
	// The bundled settings came along: the demo's active and expired waivers.
	assert.Positive(t, rep.Summary.Results["waived"], "the active waiver applies")
	assert.Contains(t, strings.Join(rep.Warnings, "\n"), "(testdata/tenants/demo-config.yaml:12) expired on 2026-10-31")
	assert.Contains(t, stdout.String(), "Contoso Production")
	assert.Contains(t, stderr.String(), "These were the bundled demo tenants (contoso, fabrikam), served by the built-in emulator.")

	// A fixture that is not there is named, with what to do instead.
	stderr.Reset()
	assert.Equal(t, exitUsage, executeWith(context.Background(), g, []string{"demo", "--tenant", "missing.yaml"}))
	assert.Contains(t, stderr.String(), "tenant fixture not found: missing.yaml: pass the path of a tenant fixture file, or leave --tenant out")
}
