package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
)

// faultConfig is the harness's config with short timeouts and retries, so that faults resolve in seconds.
func faultConfig(t *testing.T, h *harness, requestTimeout time.Duration) string {
	t.Helper()
	raw, err := os.ReadFile(h.cfgPath)
	require.NoError(t, err)
	p := filepath.Join(h.dir, "faults.yaml")
	extra := fmt.Sprintf("collect:\n  request_timeout: %s\n  max_attempts: 3\n  retry_delay: 10ms\n  max_retry_wait: 10s\n  timeout: 40s\n", requestTimeout)
	require.NoError(t, os.WriteFile(p, append(raw, []byte(extra)...), 0o600))
	return p
}

// TestFaultMatrix injects one fault into one environment's Dataverse answers and checks the promises: no
// crash, no hang, the environment marked error with a clear reason (or, for transient faults, the same results
// as without the fault), the other environments unaffected, and never a false pass.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	const victim = "Contoso Production"
	contosoOnly := map[string]string{}
	for _, name := range []string{"Contoso Production", "Contoso Sandbox", "Contoso Legacy", "Contoso Europe", "Contoso Finance",
		"Contoso Training", "Contoso Marketing", "Contoso (default)", "Contoso Partner Portal"} {
		contosoOnly[name] = demoGrid[name]
	}
	// Faults that need a longer request timeout than 1s to show themselves (64 MiB takes a while under -race).
	timeouts := map[string]time.Duration{"oversize body": 30 * time.Second}
	cases := []struct {
		name   string
		rules  []emulator.FaultRule
		reason string // "" means the fault is transient: results equal those without it
	}{
		{"429 storm with Retry-After", []emulator.FaultRule{{Match: "GET systemusers", Status: 429, RetryAfter: 1}}, "HTTP 429 0x80072322"},
		{"429 storm without Retry-After", []emulator.FaultRule{{Match: "GET roles", Status: 429}}, "lower collect.concurrency"},
		{"429 twice", []emulator.FaultRule{{Match: "GET systemusers", Status: 429, RetryAfter: 1, Count: 2}}, ""},
		{"500", []emulator.FaultRule{{Match: "GET solutions", Status: 500}}, "HTTP 500"},
		{"502 from a proxy", []emulator.FaultRule{{Match: "GET solutions", Status: 502, Body: "html"}}, "the answer was text/html, not JSON"},
		{"503 once", []emulator.FaultRule{{Match: "GET templates", Status: 503, Count: 1}}, ""},
		{"504", []emulator.FaultRule{{Match: "GET workflows", Status: 504}}, "HTTP 504"},
		{"timeout", []emulator.FaultRule{{Match: "GET businessunits", Delay: 3 * time.Second}}, "Client.Timeout exceeded"},
		{"connection reset", []emulator.FaultRule{{Match: "GET solutions", Reset: true}}, "businessunits|solutions"},
		{"connection reset once", []emulator.FaultRule{{Match: "GET solutions", Reset: true, Count: 1}}, ""},
		{"truncated JSON", []emulator.FaultRule{{Match: "GET systemusers", Body: "truncated"}}, "malformed JSON answer"},
		{"HTML page from a proxy", []emulator.FaultRule{{Match: "GET solutions", Body: "html"}}, "expected a JSON answer, got text/html"},
		{"JSON served as text", []emulator.FaultRule{{Match: "GET solutions", Body: "wrong_type"}}, "expected a JSON answer, got text/plain"},
		{"not JSON", []emulator.FaultRule{{Match: "GET asyncoperations", Body: "not_json"}}, "malformed JSON answer"},
		{"empty body", []emulator.FaultRule{{Match: "GET solutions", Body: "empty"}}, "malformed JSON answer"},
		{"oversize body", []emulator.FaultRule{{Match: "GET templates", Body: "oversize"}}, "larger than 32 MiB"},
		{"nextLink loop", []emulator.FaultRule{{Match: "GET systemusers", NextLink: "loop"}}, "repeats an earlier page"},
		{"nextLink elsewhere", []emulator.FaultRule{{Match: "GET roles", NextLink: "foreign"}}, "refusing to follow it"},
		{"401 on a token that looked valid", []emulator.FaultRule{{Match: "GET solutions", Status: 401, Count: 1}}, ""},
		{"403", []emulator.FaultRule{{Match: "GET connectionreferences", Status: 403}}, "lacks a privilege"},
		{"environment gone after the list", []emulator.FaultRule{{Match: "", Status: 404}}, "deleted or moved since it was listed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, emulator.Options{}, demoFixtures[0])
			timeout, ok := timeouts[tc.name]
			if !ok {
				timeout = time.Second
			}
			cfg := faultConfig(t, h, timeout)
			require.NoError(t, h.server("contoso").SetFaults(victim, emulator.Faults{Rules: tc.rules}))
			out := filepath.Join(h.dir, "out")
			start := time.Now()
			code := h.run("scan", "--config", cfg, "--format", "json", "--output", out, "--quiet")
			assert.Less(t, time.Since(start), 60*time.Second, "no hang past the configured timeouts")
			assert.Equal(t, exitUnaudited, code, "the Partner Portal (403) is always there: %s", h.stderr.String())
			rep := readReport(t, out)
			want := map[string]string{}
			for k, v := range contosoOnly {
				want[k] = v
			}
			if tc.reason != "" {
				want[victim] = strings.Repeat("E", 15)
			}
			assert.Equal(t, want, statusGrid(rep))
			if tc.reason == "" {
				return
			}
			for _, e := range rep.Environments {
				if e.Name == victim {
					assert.Equal(t, "error", e.Status)
					assert.Regexp(t, tc.reason, e.Error)
				}
			}
		})
	}
}
