package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/emulator"
)

// steering is what a tenant can put in a display name, and Dataverse repeat in an error message, to take over
// the terminal of the administrator who reads audit's output: a window title (OSC ended by BEL), a screen clear,
// red by the single-byte CSI, and a right-to-left override. steeringYAML is the same in a YAML double-quoted string.
const (
	steering     = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e"
	steeringYAML = `\e]0;pwned\a\e[2J\u009b31m\u202e`
)

// hostileFixture is the minimal tenant with steering text in both environments' names, the service account's
// full name and a role the application user holds; its sandbox has the Work 365 roles, so that audit fix applies
// its steps there (and undo has writes to take back).
func hostileFixture(t *testing.T) string {
	t.Helper()
	raw := mustRead(t, "../../testdata/tenants/minimal.yaml")
	for _, r := range [][2]string{
		{"  - name: Contoso Production\n", `  - name: "Contoso Production ` + steeringYAML + `"` + "\n"},
		{"  - name: Contoso Sandbox\n", `  - name: "Contoso Sandbox ` + steeringYAML + `"` + "\n"},
		{"fullname: Work 365 Service Account", `fullname: "Work 365 Service Account ` + steeringYAML + `"`},
		{"roles: [System Administrator, Basic User, Work 365 Service, Work 365 Portal Service]",
			`roles: [System Administrator, Basic User, Work 365 Service, Work 365 Portal Service, "Auditor ` + steeringYAML + `"]`},
		{"          roles: [Work 365 Service]\n        - key: bob", `          roles: [Work 365 Service, "Auditor ` + steeringYAML + `"]` + "\n        - key: bob"},
		{"      domain: contosodev\n", "      domain: contosodev\n      roles: [Work 365 Service, Work 365 Portal Service]\n"},
	} {
		require.Contains(t, raw, r[0])
		raw = strings.Replace(raw, r[0], r[1], 1)
	}
	path := filepath.Join(t.TempDir(), "hostile.yaml")
	require.NoError(t, os.WriteFile(path, []byte(raw), 0o600))
	return path
}

// assertTerminalSafe fails if out holds anything that steers a terminal, once audit's own sequences (ours) are
// taken out.
func assertTerminalSafe(t *testing.T, what, out string, ours ...string) {
	t.Helper()
	for _, o := range ours {
		out = strings.ReplaceAll(out, o, "")
	}
	for _, bad := range []string{"\x1b", "\u009b", "\a", "\r", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
		"\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"} {
		assert.NotContains(t, out, bad, "%s holds %q", what, bad)
	}
}

// Names from a tenant reach the terminal without their escape sequences and bidi controls, whichever command
// prints them: the scan's table and progress, the fix plan and its outcome, the undo plan, doctor and diff.
// The steps share one emulator, in order: each works on the state the one before left.
func TestTenantNamesReachTheTerminalClean(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, hostileFixture(t))
	h.g.stderrTTY = true // progress lines name each environment
	getenv := h.g.getenv
	h.g.getenv = func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return getenv(k)
	}
	hist := filepath.Join(h.dir, "history.db")
	journal := filepath.Join(h.dir, "journal.jsonl")
	out := filepath.Join(h.dir, "out")
	steps := []struct {
		name string
		args []string
		code int
		show string // a cleaned name the output must still hold
	}{
		{"scan", []string{"scan", "--config", h.cfgPath, "--format", "table", "--output", "-", "--history", hist}, exitFailing,
			"Contoso Production  · Production"},
		{"fix plan", []string{"fix", "--config", h.cfgPath}, exitOK, "Contoso Sandbox  · Sandbox · europe  (tenant contoso)"},
		{"fix plan held back", []string{"fix", "--config", h.cfgPath, "--env", "Contoso Production*"}, exitOK,
			"held back: Contoso Production ."},
		{"fix apply", []string{"fix", "--config", h.cfgPath, "--apply", "--yes", "--journal", journal, "--output", out}, exitFailing,
			"Contoso Production   (tenant contoso)"},
		{"scan again", []string{"scan", "--config", h.cfgPath, "--format", "table", "--output", "-", "--history", hist}, exitFailing,
			"✓ Contoso Sandbox  (contoso)  read in"},
		{"fix undo", []string{"fix", "--config", h.cfgPath, "--undo", journal, "--yes"}, exitOK, "Contoso Sandbox   (tenant contoso)"},
		{"doctor", []string{"doctor", "--config", h.cfgPath}, exitOK, "Environment Contoso Sandbox  (Sandbox)"},
		{"diff", []string{"diff", "--history", hist}, exitOK, "Contoso Sandbox  (contoso)"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code := h.run(st.args...)
			require.Equal(t, st.code, code, "stdout:\n%s\nstderr:\n%s", h.stdout.String(), h.stderr.String())
			assert.Contains(t, h.stdout.String()+h.stderr.String(), st.show)
			assertTerminalSafe(t, "standard output", h.stdout.String())
			assertTerminalSafe(t, "standard error", h.stderr.String(), "\r\x1b[2K")
		})
	}
}

// dataverseSays answers the requests match picks with a Dataverse error whose message holds steering text and a
// line break, as a message that quotes a tenant's names can; other requests go to the emulator.
type dataverseSays struct {
	next  http.RoundTripper
	match func(*http.Request) bool
}

// steeringMessage is the Dataverse error message dataverseSays answers with.
const steeringMessage = "Role '" + steering + "' not found.\r\nFAKE LINE\tafter a tab"

func (d dataverseSays) RoundTrip(r *http.Request) (*http.Response, error) {
	if !d.match(r) {
		return d.next.RoundTrip(r)
	}
	if r.Body != nil {
		r.Body.Close()
	}
	body, err := json.Marshal(map[string]any{"error": map[string]any{"code": "0x80040217", "message": steeringMessage}})
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// An error message from Dataverse is printed on one line without its escape sequences, wherever it shows: as why
// an environment could not be audited (the table), why a fix step failed (the outcome), or what doctor found.
func TestDataverseErrorMessagesReachTheTerminalClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		match func(*http.Request) bool
		args  func(h *harness) []string
		code  int
		show  string // where the message shows
	}{
		{"scan table", func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/roles")
		},
			func(h *harness) []string {
				return []string{"scan", "--config", h.cfgPath, "--format", "table", "--output", "-"}
			}, exitUnaudited, "could not be audited:"},
		{"fix outcome", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$ref")
		},
			func(h *harness) []string {
				return []string{"fix", "--config", h.cfgPath, "--apply", "--yes", "--journal", filepath.Join(h.dir, "j.jsonl"), "--output", h.dir}
			}, exitFixFailed, "FAILED"},
		{"doctor", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/WhoAmI") },
			func(h *harness) []string { return []string{"doctor", "--config", h.cfgPath} }, exitUnaudited, "FAIL  member:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, emulator.Options{}, hostileFixture(t))
			hc := *h.g.httpClient
			hc.Transport = dataverseSays{next: transportOf(hc.Transport), match: tt.match}
			h.g.httpClient = &hc
			code := h.run(tt.args(h)...)
			require.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", h.stdout.String(), h.stderr.String())
			all := h.stdout.String() + h.stderr.String()
			assert.Contains(t, all, tt.show)
			assert.Contains(t, all, "HTTP 400 0x80040217: Role '")
			assert.Contains(t, all, "not found.")
			assert.NotRegexp(t, `(?m)^\s*FAKE LINE`, all, "a line break in the message does not start a line")
			assertTerminalSafe(t, "standard output", h.stdout.String())
			assertTerminalSafe(t, "standard error", h.stderr.String())
		})
	}
}

// The device code sign-in message comes from the network: it is shown without escape sequences, after the
// line's own erasing of a progress status line.
func TestDeviceCodeMessageReachesTheTerminalClean(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{DeviceCodePolls: 1}, fabrikamWith(t, t.TempDir(), "    public_client: true\n"))
	h.useCredential("device_code: true", false)
	h.g.stdinTTY, h.g.stderrTTY = true, true
	hc := *h.g.httpClient
	hc.Transport = rewriteDeviceCode{next: transportOf(hc.Transport)}
	h.g.httpClient = &hc

	code := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", filepath.Join(h.dir, "out"), "--quiet")
	require.Equal(t, exitFailing, code, h.stderr.String())
	assert.Contains(t, h.stderr.String(), "\r\x1b[Kaudit: sign-in for tenant fabrikam: To sign in, enter the code at ")
	assertTerminalSafe(t, "standard error", h.stderr.String(), "\r\x1b[K")
}

// rewriteDeviceCode puts steering text into the message of the device code answer.
type rewriteDeviceCode struct{ next http.RoundTripper }

func (d rewriteDeviceCode) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/devicecode") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	doc["message"] = "To sign in, enter the code at " + steering + "\x1b]8;;https://evil.example/\x1b\\" + fmt.Sprint(doc["verification_uri"]) + "\x1b]8;;\x1b\\"
	if raw, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
	return resp, nil
}

// The errors audit ends with keep the line breaks audit put there and lose everything else; an error that
// carries an API answer is one line, whatever the answer held.
func TestErrorText(t *testing.T) {
	t.Parallel()
	apiErr := &api.Error{Method: "GET", URL: "https://contoso.crm.dynamics.com/api/data/v9.2/roles", Status: 400, Code: "0x80040217",
		Message: steeringMessage}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"an API answer, wrapped", fmt.Errorf("collect: %w", apiErr),
			"collect: GET https://contoso.crm.dynamics.com/api/data/v9.2/roles: HTTP 400 0x80040217: Role '' not found. FAKE LINE after a tab"},
		{"a config file's problems, one a line", config.Errors{{Path: "audit.yaml", Line: 3, Msg: "tenant \x1b[2J" + "\u202e"}, {Path: "audit.yaml", Line: 9, Msg: "bad"}},
			"audit.yaml:3: tenant \naudit.yaml:9: bad"},
		{"a usage hint under a cobra error", fmt.Errorf("%w\nRun 'audit --help' for usage.", errors.New("unknown flag: --\x1b]0;x\x07")),
			"unknown flag: --\nRun 'audit --help' for usage."},
		{"a carriage return cannot overwrite the line", errors.New("ok\rFAILED"), "ok\nFAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, errorText(tt.err))
		})
	}
}

// The error a command ends with goes through the same cleaning, with its usage hint on a line of its own.
func TestRootPrintsErrorsClean(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{}, "../../testdata/tenants/minimal.yaml")
	code := h.run("scan", "--"+steering)
	assert.Equal(t, exitUsage, code)
	assert.Regexp(t, `^audit: unknown flag: --\]?0?;?`, h.stderr.String())
	assert.Contains(t, h.stderr.String(), "\nRun 'audit scan --help' for usage.\n")
	assertTerminalSafe(t, "standard error", h.stderr.String())
}
