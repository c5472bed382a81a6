package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
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
					assert.Equal(t, policy.StatusError, e.Status)
					assert.Regexp(t, tc.reason, e.Error)
				}
			}
		})
	}
}

// TestFixFaultMatrix is the fault matrix of writes, through the binary's code path: each of the Contoso Legacy
// fix's writes (create the application user, assign its roles, switch the service user) is answered with a 429,
// a 500 or nothing, having landed or not. Every run ends with each write made exactly once, the rules it fixes
// passing, Work 365 running as an enabled user that holds Work 365 Service, and an undo that puts the service
// user back.
func TestFixFaultMatrix(t *testing.T) {
	t.Parallel()
	const env = "Contoso Legacy"
	writes := []struct {
		name, match string
		is          func(method, path string) bool
	}{
		{"create", "POST systemusers", func(m, p string) bool { return m == http.MethodPost && strings.HasSuffix(p, "/systemusers") }},
		{"switch", "PATCH w365_configurations", func(m, p string) bool { return m == http.MethodPatch && strings.Contains(p, "/w365_configurations(") }},
	}
	answers := []struct {
		name string
		rule emulator.FaultRule
	}{
		{"landed, 429", emulator.FaultRule{Applied: true, Status: http.StatusTooManyRequests, RetryAfter: 1}},
		{"landed, 500", emulator.FaultRule{Applied: true, Status: http.StatusInternalServerError}},
		{"landed, no answer", emulator.FaultRule{Applied: true, Reset: true}},
		{"refused, 429", emulator.FaultRule{Status: http.StatusTooManyRequests, RetryAfter: 1}},
		{"lost, 503", emulator.FaultRule{Status: http.StatusServiceUnavailable}},
		{"lost, no answer", emulator.FaultRule{Reset: true}},
	}
	for _, w := range writes {
		for _, a := range answers {
			t.Run(w.name+" "+a.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, emulator.Options{}, demoFixtures[0])
				cfg := faultConfig(t, h, 5*time.Second)
				srv := h.server("contoso")
				rule := a.rule
				rule.Match, rule.Count = w.match, 1
				require.NoError(t, srv.SetFaults(env, emulator.Faults{Rules: []emulator.FaultRule{rule}}))
				journal := filepath.Join(h.dir, "journal.jsonl")
				out := filepath.Join(h.dir, "out")
				code := h.run("fix", "--config", cfg, "--env", env, "--apply", "--yes", "--allow-production", "--journal", journal,
					"--format", "json", "--output", out, "--quiet")
				require.Contains(t, []int{exitOK, exitFailing}, code, "the fix did all it planned (other rules still fail): %s", h.stderr.String())
				rep := readReport(t, out)
				for _, o := range rep.Fix.Outcomes {
					if o.Status != fix.OutcomeManual && o.Status != fix.OutcomeNotApplied {
						assert.Equal(t, fix.OutcomeApplied, o.Status, "%s: %s", o.Action, o.Reason)
					}
				}
				// The faulted write was sent once when it landed, twice when it did not; nothing else twice.
				sent := 0
				for _, wr := range srv.Writes() {
					if path, _, _ := strings.Cut(wr.Path, "?"); w.is(wr.Method, path) {
						sent++
					}
				}
				if a.rule.Applied {
					assert.Equal(t, 1, sent, "a write that landed is never sent twice")
				} else {
					assert.Equal(t, 2, sent, "a write that did not land is sent again once")
				}
				app := userIn(t, h, "contoso", env, "e4b1a995-abe3-4350-a61c-65fccd32e8bd")
				live := 0
				for _, u := range srv.Rows(env, "systemusers") {
					if u["applicationid"] == "e4b1a995-abe3-4350-a61c-65fccd32e8bd" {
						live++
					}
				}
				assert.Equal(t, 1, live, "exactly one application user")
				st := byName(rep)
				for _, rule := range []string{"W365.APPUSER.1", "W365.ROLES.1", "W365.ROLES.2", "W365.SERVICE.1"} {
					assert.Equal(t, policy.StatusPass, st[env][rule], rule)
				}
				assertServiceUserFit(t, h, env, app)

				code = h.run("fix", "--config", cfg, "--undo", journal, "--yes", "--quiet")
				require.Contains(t, []int{exitOK, exitFailing}, code, h.stderr.String())
				svc := ""
				for _, u := range srv.Rows(env, "systemusers") {
					if u["fullname"] == "Work 365 Service Account" {
						svc = u["systemuserid"].(string)
					}
				}
				assertServiceUserFit(t, h, env, svc)
			})
		}
	}
}

// assertServiceUserFit checks the invariant of every fix and undo: the service-user setting points to want, an
// enabled user that holds Work 365 Service.
func assertServiceUserFit(t *testing.T, h *harness, env, want string) {
	t.Helper()
	srv := h.server("contoso")
	rows := srv.Rows(env, "w365_configurations")
	require.Len(t, rows, 1)
	id, _ := rows[0]["_w365_serviceuserid_value"].(string)
	assert.Equal(t, want, id, "the service user")
	for _, u := range srv.Rows(env, "systemusers") {
		if u["systemuserid"] != id {
			continue
		}
		assert.Equal(t, false, u["isdisabled"], "the service user is enabled")
		return
	}
	t.Errorf("the service user %s does not exist", id)
}
