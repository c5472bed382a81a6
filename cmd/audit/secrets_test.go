package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
)

// jwtLike matches a bearer token or a client assertion (three base64url parts, the first starting {"…).
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)

// artifacts reads every file under dir plus the given outputs.
func artifacts(t *testing.T, dir string, outputs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, o := range outputs {
		out[fmt.Sprintf("output %d", i)] = o
	}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[p] = string(b)
		return nil
	}))
	return out
}

func assertNoSecret(t *testing.T, arts map[string]string, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, arts)
	for name, content := range arts {
		for _, s := range secrets {
			assert.NotContains(t, content, s, "%s leaks a secret", name)
		}
		assert.False(t, jwtLike.MatchString(content), "%s contains a token or assertion: %q", name, jwtLike.FindString(content))
		assert.NotContains(t, content, "PRIVATE KEY", "%s contains key material", name)
		assert.NotContains(t, content, "client_assertion=", name)
	}
}

// A full scan, fix and undo, with --debug and every report format, leaves no secret in any artifact or output.
func TestNoSecretInAnyArtifactOfAScanAndFix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	runs := filepath.Join(h.dir, "runs")
	var outputs []string
	run := func(args ...string) {
		h.run(append([]string{"--debug"}, args...)...)
		outputs = append(outputs, h.stdout.String(), h.stderr.String())
	}
	formats := strings.Join(report.Names(), ",")
	journal := filepath.Join(runs, "journal.jsonl")
	run("scan", "--config", h.cfgPath, "--format", formats, "--output", filepath.Join(runs, "scan"), "--snapshot", filepath.Join(runs, "snapshot.json"))
	run("fix", "--config", h.cfgPath, "--apply", "--yes", "--fix-privileges", "--journal", journal, "--format", formats, "--output", filepath.Join(runs, "fix"))
	run("fix", "--config", h.cfgPath, "--undo", journal, "--yes", "--journal", filepath.Join(runs, "undo.jsonl"))
	run("collect", "--config", h.cfgPath, "-o", filepath.Join(runs, "after.json"))
	assert.Contains(t, strings.Join(outputs, ""), "debug: POST https://127.0.0.1:", "--debug logs requests")
	assertNoSecret(t, artifacts(t, runs, outputs...), "demo-secret-not-a-real-credential")

	// A wrong secret is refused with advice, and never echoed.
	bad := strings.Replace(mustRead(t, h.cfgPath), "client_secret_env: AUDIT_DEMO_CLIENT_SECRET_0", "client_secret_env: WRONG_SECRET", 1)
	badPath := filepath.Join(h.dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badPath, []byte(bad), 0o600))
	getenv := h.g.getenv
	h.g.getenv = func(k string) string {
		if k == "WRONG_SECRET" {
			return "wrong-secret-value-12345"
		}
		return getenv(k)
	}
	code := h.run("--debug", "scan", "--config", badPath, "--format", "table,json", "--output", filepath.Join(h.dir, "bad"))
	assert.Equal(t, exitUnaudited, code)
	assert.Contains(t, h.stdout.String(), "the client secret is wrong or expired")
	assertNoSecret(t, artifacts(t, filepath.Join(h.dir, "bad"), h.stdout.String(), h.stderr.String()), "wrong-secret-value-12345")
}

// A certificate credential's private key never shows up either.
func TestNoKeyMaterialWithACertificateCredential(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "auditor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "auditor.crt"), certPEM, 0o600))
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "auditor.pem"), append(append([]byte{}, certPEM...), keyPEM...), 0o600))

	fixture := strings.Replace(mustRead(t, "../../testdata/tenants/demo-fabrikam.yaml"),
		"    secret: demo-secret-not-a-real-credential\n", "    secret: demo-secret-not-a-real-credential\n    certificates: [auditor.crt]\n", 1)
	fxPath := filepath.Join(dir, "fabrikam.yaml")
	require.NoError(t, os.WriteFile(fxPath, []byte(fixture), 0o600))
	h := newHarness(t, emulator.Options{}, fxPath)
	cfg := strings.Replace(mustRead(t, h.cfgPath), "client_secret_env: AUDIT_DEMO_CLIENT_SECRET_0", "client_certificate_path: "+filepath.Join(dir, "auditor.pem"), 1)
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(cfg), 0o600))

	out := filepath.Join(h.dir, "out")
	code := h.run("--debug", "scan", "--config", h.cfgPath, "--format", strings.Join(report.Names(), ","), "--output", out)
	assert.Equal(t, exitFailing, code, h.stdout.String()+h.stderr.String())
	keyBody := strings.Split(string(keyPEM), "\n")[1]
	assertNoSecret(t, artifacts(t, out, h.stdout.String(), h.stderr.String()), keyBody)
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// Webhook URLs are secrets: with notifications sent, refused, unreachable and misconfigured, and --debug on,
// no URL (nor the secret part of its path) is in any report, in the history store (its stored reports,
// snapshots and notification records included), in the output or in an error.
func TestNoWebhookURLInAnyArtifactOfScansWithNotifications(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	ok, refusing := newHookReceiver(t), newHookReceiver(t)
	refusing.status = http.StatusInternalServerError
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	const secret = "WEBHOOKSECRET"
	urls := map[string]string{
		"OK_URL":      ok.srv.URL + "/services/T01/B01/" + secret + "ok?sig=" + secret + "sig",
		"REFUSED_URL": refusing.srv.URL + "/webhookb2/" + secret + "refused",
		"GONE_URL":    gone.URL + "/hooks/" + secret + "gone",
		"PLAIN_URL":   "http://hooks.example.com/services/" + secret + "plain",
	}
	withEnv(h, urls)
	appendConfig(t, h, `notify:
  - {name: ok, type: slack, url_env: OK_URL, allow_private_targets: true}
  - {name: refused, type: teams, url_env: REFUSED_URL, retries: 0, allow_private_targets: true}
  - {name: gone, type: webhook, url_env: GONE_URL, retries: 0, allow_private_targets: true}
  - {name: plain, type: webhook, url_env: PLAIN_URL, allow_private_targets: true}
  - {name: unset, type: webhook, url_env: NOT_SET_URL}
`)
	runs := filepath.Join(h.dir, "runs")
	hist := filepath.Join(runs, "history.db")
	var outputs []string
	scan := func() int {
		code := h.run("--debug", "scan", "--config", h.cfgPath, "--format", strings.Join(report.Names(), ","), "--output", filepath.Join(runs, "reports"),
			"--history", hist, "--snapshot", filepath.Join(runs, "snapshot.json"))
		outputs = append(outputs, h.stdout.String(), h.stderr.String())
		return code
	}
	assert.Equal(t, exitUnaudited, scan())
	removeRole(t, h, "Contoso Production", "Work 365 Service")
	assert.Equal(t, exitUnaudited, scan(), "failed notifications never change the scan's result")
	stderr := outputs[len(outputs)-1]
	assert.Contains(t, stderr, "notify: sent new_failures to ok (slack)")
	assert.Contains(t, stderr, "audit: notify refused (teams): after 1 attempt: HTTP 500 (url_env REFUSED_URL); the scan's result is unchanged")
	assert.Contains(t, stderr, "audit: notify gone (webhook): after 1 attempt: ")
	assert.Contains(t, stderr, "audit: notify plain (webhook): the URL is not https")
	assert.Contains(t, stderr, "audit: notify unset (webhook): the variable is empty or not set (url_env NOT_SET_URL)")
	assert.Equal(t, map[string]int{"/services/T01/B01/" + secret + "ok": 1}, ok.counts())

	// What the store holds, readable.
	st, err := history.Open(context.Background(), hist)
	require.NoError(t, err)
	defer st.Close()
	stored := map[string]string{}
	for _, id := range []int64{1, 2} {
		rep, err := st.Report(context.Background(), id)
		require.NoError(t, err)
		raw, err := json.Marshal(rep)
		require.NoError(t, err)
		stored[fmt.Sprintf("stored report %d", id)] = string(raw)
		snap, err := st.Snapshot(context.Background(), id)
		require.NoError(t, err)
		raw, err = json.Marshal(snap)
		require.NoError(t, err)
		stored[fmt.Sprintf("stored snapshot %d", id)] = string(raw)
		ns, err := st.Notifications(context.Background(), id)
		require.NoError(t, err)
		raw, err = json.Marshal(ns)
		require.NoError(t, err)
		stored[fmt.Sprintf("stored notifications %d", id)] = string(raw)
	}
	assert.Contains(t, stored["stored notifications 2"], "HTTP 500")

	arts := artifacts(t, runs, outputs...)
	for k, v := range stored {
		arts[k] = v
	}
	leaks := []string{secret, "demo-secret-not-a-real-credential"}
	for _, u := range urls {
		leaks = append(leaks, u)
	}
	assertNoSecret(t, arts, leaks...)
}
