package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/report"
)

// update rewrites golden files (docs/rules.md, report goldens) instead of comparing with them.
var update = flag.Bool("update", false, "rewrite golden files")

// testNow is the clock of every end-to-end test: the emulator's relative fixture times and the reports use it.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var demoFixtures = []string{"../../testdata/tenants/demo.yaml", "../../testdata/tenants/demo-fabrikam.yaml"}

// harness runs the binary's code path (executeWith) against in-process emulators, through a real config file.
type harness struct {
	t       *testing.T
	emu     *emulators
	g       *globals
	cfgPath string
	dir     string
	stdout  *bytes.Buffer
	stderr  *bytes.Buffer
}

func newHarness(t *testing.T, opts emulator.Options, fixtures ...string) *harness {
	t.Helper()
	if len(fixtures) == 0 {
		fixtures = demoFixtures
	}
	h := &harness{t: t, dir: t.TempDir(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	base := &globals{stdin: strings.NewReader(""), stdout: h.stdout, stderr: h.stderr,
		now: func() time.Time { return testNow }, getenv: func(string) string { return "" }}
	emu, err := startEmulators(base, fixtures, opts)
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	h.emu, h.g = emu, emu.g

	var b strings.Builder
	b.WriteString("tenants:\n")
	for _, tn := range emu.Config.Tenants {
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n    client_id: %s\n    client_secret_env: %s\n    authority: %s\n    bap: %s\n    bap_scope: %s\n",
			tn.Name, tn.TenantID, tn.ClientID, tn.ClientSecretEnv, tn.Authority, tn.BAP, tn.BAPScope)
	}
	h.cfgPath = filepath.Join(h.dir, "audit.yaml")
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(b.String()), 0o600))
	return h
}

// server returns the emulator serving the tenant of the given name.
func (h *harness) server(tenant string) *emulator.Server {
	for i, tn := range h.emu.Config.Tenants {
		if tn.Name == tenant {
			return h.emu.Servers[i]
		}
	}
	h.t.Fatalf("no emulator for tenant %s", tenant)
	return nil
}

// run executes a command line and returns its exit code; output accumulates in h.stdout and h.stderr.
func (h *harness) run(args ...string) int {
	h.t.Helper()
	h.stdout.Reset()
	h.stderr.Reset()
	return executeWith(context.Background(), h.g, args)
}

// readReport reads the JSON report written to dir, after checking it against the report's JSON Schema: every
// end-to-end test that reads a report also validates it.
func readReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, report.ValidateJSON(raw), "report.json does not match docs/report.schema.json")
	var r report.Report
	require.NoError(t, json.Unmarshal(raw, &r))
	return &r
}

// statusGrid maps "environment name" to the statuses of the catalog's rules in ID order, abbreviated:
// P pass, F fail, W waived, - not applicable, E error.
func statusGrid(r *report.Report) map[string]string {
	abbrev := map[string]string{"pass": "P", "fail": "F", "waived": "W", "not_applicable": "-", "error": "E"}
	out := map[string]string{}
	for _, res := range r.Results {
		out[res.EnvironmentName] += abbrev[string(res.Status)]
	}
	return out
}

// transportOf is the transport of an injected client, for tests that wrap it.
func transportOf(rt http.RoundTripper) http.RoundTripper { return audit.TransportOf(rt) }
