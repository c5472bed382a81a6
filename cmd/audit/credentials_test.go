package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
)

const (
	fabrikamFixture  = "../../testdata/tenants/demo-fabrikam.yaml"
	fabrikamClientID = "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"
	githubIssuer     = "https://token.actions.githubusercontent.com"
	mainSubject      = "repo:work365/audit:ref:refs/heads/main"
	releaseSubject   = "repo:work365/audit:environment:production"
	secretLine       = "client_secret_env: AUDIT_DEMO_CLIENT_SECRET_0"
)

// fabrikamGrid is the demo grid of the Fabrikam tenant, whatever credential the auditor uses.
var fabrikamGrid = map[string]string{"Fabrikam Production": demoGrid["Fabrikam Production"], "Fabrikam Sandbox": demoGrid["Fabrikam Sandbox"],
	"Fabrikam Archive": demoGrid["Fabrikam Archive"]}

// fabrikamWith writes the Fabrikam demo fixture with extra keys on its auditor client into dir.
func fabrikamWith(t *testing.T, dir, clientKeys string) string {
	t.Helper()
	const anchor = "    secret: demo-secret-not-a-real-credential\n"
	fixture := mustRead(t, fabrikamFixture)
	require.Contains(t, fixture, anchor)
	path := filepath.Join(dir, "fabrikam.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(fixture, anchor, anchor+clientKeys, 1)), 0o600))
	return path
}

// useCredential replaces the secret of the harness config with other credential keys; dropClientID removes
// client_id too (a managed identity has none).
func (h *harness) useCredential(keys string, dropClientID bool) {
	h.t.Helper()
	cfg := mustRead(h.t, h.cfgPath)
	require.Contains(h.t, cfg, secretLine)
	cfg = strings.Replace(cfg, secretLine, keys, 1)
	if dropClientID {
		cfg = strings.Replace(cfg, "    client_id: "+fabrikamClientID+"\n", "", 1)
	}
	require.NoError(h.t, os.WriteFile(h.cfgPath, []byte(cfg), 0o600))
}

// workloadToken signs a token as GitHub Actions' OIDC provider would issue it for Entra (RS256).
func workloadToken(t *testing.T, key *rsa.PrivateKey, subject string) string {
	t.Helper()
	now := time.Now()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "github"}) + "." + enc(map[string]any{
		"iss": githubIssuer, "sub": subject, "aud": "api://AzureADTokenExchange", "iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomHex(t)})
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// federatedFabrikam starts the Fabrikam emulator with a GitHub Actions trust for two subjects of one key.
func federatedFabrikam(t *testing.T) (*harness, *rsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "github.pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	fx := fabrikamWith(t, dir, "    federated_issuers:\n"+
		"      - {issuer: \""+githubIssuer+"\", subject: \""+mainSubject+"\", key: github.pub.pem}\n"+
		"      - {issuer: \""+githubIssuer+"\", subject: \""+releaseSubject+"\", key: github.pub.pem}\n")
	return newHarness(t, emulator.Options{}, fx), key
}

// afterFirstToken runs fn once, when the first token response has reached the client and before its next request.
type afterFirstToken struct {
	next http.RoundTripper
	once sync.Once
	fn   func()
}

func (a *afterFirstToken) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		a.once.Do(a.fn)
	}
	return resp, err
}

// A scan authenticates with the workload identity token in federated_token_file, and reads the file again for
// each token: a token the platform rotated between two requests is the one the next request sends.
func TestScanWithAFederatedTokenFileUsesTheRotatedToken(t *testing.T) {
	t.Parallel()
	h, key := federatedFabrikam(t)
	tokenFile := filepath.Join(h.dir, "azure-identity-token")
	first, second := workloadToken(t, key, mainSubject), workloadToken(t, key, releaseSubject)
	require.NoError(t, os.WriteFile(tokenFile, []byte(first), 0o600))
	h.useCredential("federated_token_file: azure-identity-token", false)
	hc := *h.g.httpClient
	hc.Transport = &afterFirstToken{next: transportOf(hc.Transport), fn: func() {
		require.NoError(t, os.WriteFile(tokenFile, []byte(second+"\n"), 0o600))
	}}
	h.g.httpClient = &hc

	out := filepath.Join(h.dir, "out")
	code := h.run("--debug", "scan", "--config", h.cfgPath, "--format", "table,json,html,sarif", "--output", out)
	assert.Equal(t, exitFailing, code, h.stdout.String()+h.stderr.String())
	assert.Equal(t, fabrikamGrid, statusGrid(readReport(t, out)))

	creds := h.server("fabrikam").Stats().Credentials
	assert.Equal(t, 1, creds["federated "+githubIssuer+" "+mainSubject], "the first token (BAP) was obtained with the first assertion: %v", creds)
	assert.GreaterOrEqual(t, creds["federated "+githubIssuer+" "+releaseSubject], 1, "later tokens with the rotated one: %v", creds)
	assert.Len(t, creds, 2, "%v", creds)
	signature := func(tok string) string { return tok[strings.LastIndex(tok, ".")+1:] }
	assertNoSecret(t, artifacts(t, out, h.stdout.String(), h.stderr.String()), signature(first), signature(second))
}

// The zero-config form (AZURE_* variables, as azure/login and Kubernetes workload identity set them), with the
// BAP endpoint from AUDIT_BAP_URL and AUDIT_BAP_SCOPE.
func TestZeroConfigScanWithAFederatedToken(t *testing.T) {
	t.Parallel()
	h, key := federatedFabrikam(t)
	tokenFile := filepath.Join(h.dir, "azure-identity-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(workloadToken(t, key, releaseSubject)), 0o600))
	srv := h.server("fabrikam")
	env := map[string]string{
		"AZURE_TENANT_ID": srv.TenantID(), "AZURE_CLIENT_ID": fabrikamClientID, "AZURE_FEDERATED_TOKEN_FILE": tokenFile,
		"AZURE_AUTHORITY_HOST": srv.URL(), "AUDIT_BAP_URL": srv.BAPURL(), "AUDIT_BAP_SCOPE": srv.BAPScope(),
	}
	h.g.getenv = func(k string) string { return env[k] }

	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--format", "json", "--output", out, "--quiet")
	assert.Equal(t, exitFailing, code, h.stderr.String())
	assert.Equal(t, fabrikamGrid, statusGrid(readReport(t, out)))
	// One token for BAP and one for each of the two organizations.
	assert.Equal(t, map[string]int{"federated " + githubIssuer + " " + releaseSubject: 3}, srv.Stats().Credentials)
}

// Managed identity through the App Service–style endpoint the emulator serves. IDENTITY_ENDPOINT and
// IDENTITY_HEADER are process-wide (MSAL reads them itself), so this test is not parallel.
func TestScanWithAManagedIdentity(t *testing.T) {
	h := newHarness(t, emulator.Options{}, fabrikamWith(t, t.TempDir(), "    managed_identity: true\n"))
	srv := h.server("fabrikam")
	t.Setenv("IDENTITY_ENDPOINT", srv.ManagedIdentityEndpoint())
	t.Setenv("IDENTITY_HEADER", srv.ManagedIdentityHeader())
	base := mustRead(t, h.cfgPath)

	for name, keys := range map[string]string{
		"system-assigned": "managed_identity: true",
		"user-assigned":   "managed_identity: true\n    managed_identity_client_id: " + fabrikamClientID,
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(h.cfgPath, []byte(base), 0o600))
			h.useCredential(keys, true)
			srv.ResetStats()
			out := filepath.Join(h.dir, name)
			code := h.run("--debug", "scan", "--config", h.cfgPath, "--format", "json", "--output", out)
			assert.Equal(t, exitFailing, code, h.stdout.String()+h.stderr.String())
			assert.Equal(t, fabrikamGrid, statusGrid(readReport(t, out)))
			creds := srv.Stats().Credentials
			assert.GreaterOrEqual(t, creds["managed_identity"], 1)
			assert.Len(t, creds, 1, "only the managed identity obtained tokens: %v", creds)
			assert.Contains(t, h.stderr.String(), "debug: GET "+srv.ManagedIdentityEndpoint()+"?api-version=2019-08-01")
			assertNoSecret(t, artifacts(t, out, h.stdout.String(), h.stderr.String()), srv.ManagedIdentityHeader())
		})
	}
}

// An administrator signs in once with a device code shown on standard error; BAP and Dataverse tokens follow
// from the refresh token.
func TestScanWithDeviceCodeSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{DeviceCodePolls: 2}, fabrikamWith(t, t.TempDir(), "    public_client: true\n"))
	h.useCredential("device_code: true", false)
	h.g.stdinTTY, h.g.stderrTTY = true, true

	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out)
	assert.Equal(t, exitFailing, code, h.stdout.String()+h.stderr.String())
	assert.Equal(t, fabrikamGrid, statusGrid(readReport(t, out)))
	srv := h.server("fabrikam")
	assert.Regexp(t, `audit: sign-in for tenant fabrikam: To sign in, use a web browser to open the page `+srv.URL()+`/devicelogin and enter the code [A-Z0-9]{8} to authenticate\.\n`, h.stderr.String())
	assert.Equal(t, 1, strings.Count(h.stderr.String(), "To sign in"), "one sign-in per run")
	// The sign-in's token serves one audience; each of the other two (BAP or an organization) comes from the refresh token.
	assert.Equal(t, map[string]int{"device_code": 1, "refresh_token": 2}, srv.Stats().Credentials)
	assertNoSecret(t, artifacts(t, out, h.stdout.String(), h.stderr.String()))

	// Without a terminal there is nobody to sign in: refused before any request, with what to use instead.
	for _, tty := range [][2]bool{{false, true}, {true, false}} {
		h.g.stdinTTY, h.g.stderrTTY = tty[0], tty[1]
		srv.ResetStats()
		code = h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, h.stderr.String(), `tenant "fabrikam": device_code sign-in needs an administrator at a terminal`)
		assert.Contains(t, h.stderr.String(), "managed identity")
		assert.Empty(t, srv.Stats().Credentials)
		assert.Zero(t, srv.Stats().TokenErrors)
	}
}
