package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/work365/audit/internal/emulator"
)

const (
	fedIssuer    = "https://token.actions.githubusercontent.com"
	fedMain      = "repo:work365/audit:ref:refs/heads/main"
	fedRelease   = "repo:work365/audit:environment:production"
	identityID   = "7c2d9e41-5b3a-4f68-9d0e-1a2b3c4d5e6f"
	publicClient = "9e4f1063-7d5c-418a-9f20-3c4d5e6f7081"
)

// signAssertion signs a workload identity token as GitHub Actions or Kubernetes would issue it (RS256).
func signAssertion(t *testing.T, key *rsa.PrivateKey, subject string) string {
	t.Helper()
	now := time.Now()
	h, err := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "test"})
	require.NoError(t, err)
	c, err := json.Marshal(map[string]any{"iss": fedIssuer, "sub": subject, "aud": "api://AzureADTokenExchange",
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": fmt.Sprint(now.UnixNano())})
	require.NoError(t, err)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func startWith(t *testing.T, opts emulator.Options, clients ...emulator.Client) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(&emulator.Fixture{Tenant: emulator.TenantInfo{ID: tenantID, Name: "contoso", Domain: "contoso.onmicrosoft.com"},
		Clients: clients, Environments: organizations}, opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	return srv
}

// The federated token file is read again for every token request, so a token the platform rotated is used
// from the next request on.
func TestFederatedTokenFileIsReadOnEveryTokenRequest(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	srv := startWith(t, emulator.Options{}, emulator.Client{Name: "Auditor", ClientID: clientID, FederatedIssuers: []emulator.FederatedIssuer{
		{Issuer: fedIssuer, Subject: fedMain, KeyPEM: pubPEM}, {Issuer: fedIssuer, Subject: fedRelease, KeyPEM: pubPEM}}})

	file := filepath.Join(t.TempDir(), "token")
	first := signAssertion(t, key, fedMain)
	require.NoError(t, os.WriteFile(file, []byte(first+"\n"), 0o600))
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), FederatedTokenFile: file, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = src.Token(ctx, srv.BAPScope())
	require.NoError(t, err)

	second := signAssertion(t, key, fedRelease)
	require.NoError(t, os.WriteFile(file, []byte(second), 0o600))
	_, err = src.Token(ctx, srv.DataverseScope(org))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"federated " + fedIssuer + " " + fedMain: 1, "federated " + fedIssuer + " " + fedRelease: 1}, srv.Stats().Credentials)

	// A token for a subject the app registration does not trust is refused with advice, and never echoed.
	stranger := signAssertion(t, key, "repo:someone/else:ref:refs/heads/main")
	require.NoError(t, os.WriteFile(file, []byte(stranger), 0o600))
	src.Invalidate(srv.BAPScope())
	_, err = src.Token(ctx, srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS700213")
	assert.Contains(t, err.Error(), "no federated credential of the app registration matches the token")
	for _, tok := range []string{first, second, stranger} {
		assert.NotContains(t, err.Error(), strings.Split(tok, ".")[2])
	}

	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = src.Token(ctx, srv.BAPScope())
	assert.ErrorContains(t, err, "is empty")
	require.NoError(t, os.Remove(file))
	_, err = src.Token(ctx, srv.BAPScope())
	assert.ErrorContains(t, err, "the federated token file cannot be used")
}

func TestPFXWithoutPassword(t *testing.T) {
	t.Parallel()
	cert, key := newCert(t)
	srv := start(t, cert)
	dir := t.TempDir()
	for name, enc := range map[string]*pkcs12.Encoder{"modern": pkcs12.Modern, "passwordless": pkcs12.Passwordless} {
		t.Run(name, func(t *testing.T) {
			pfx, err := enc.Encode(key, cert, nil, "")
			require.NoError(t, err)
			path := filepath.Join(dir, name+".pfx")
			require.NoError(t, os.WriteFile(path, pfx, 0o600))
			src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), CertificatePath: path, HTTPClient: srv.HTTPClient()})
			require.NoError(t, err)
			_, err = src.Token(context.Background(), srv.BAPScope())
			require.NoError(t, err)
		})
	}
	assert.Equal(t, 2, srv.Stats().Credentials["certificate"])
}

// Managed identity through the App Service–style endpoint MSAL finds in IDENTITY_ENDPOINT and IDENTITY_HEADER.
// The variables are process-wide, so this test is not parallel.
func TestManagedIdentitySystemAndUserAssigned(t *testing.T) {
	// MSAL keeps managed identity tokens in one cache per process, keyed by identity and audience: a fresh
	// identity ID per run, and the port-specific Dataverse audience, keep -count=N runs apart.
	identityID2 := randomGUID(t)
	srv := startWith(t, emulator.Options{},
		emulator.Client{Name: "Auditor", ClientID: clientID, Secret: secret},
		emulator.Client{Name: "Web app identity", ClientID: identityID, ManagedIdentity: true},
		emulator.Client{Name: "Shared identity", ClientID: identityID2, ManagedIdentity: true})
	t.Setenv("IDENTITY_ENDPOINT", srv.ManagedIdentityEndpoint())
	t.Setenv("IDENTITY_HEADER", srv.ManagedIdentityHeader())
	ctx := context.Background()
	claims := func(tok string) map[string]any {
		parts := strings.Split(tok, ".")
		require.Len(t, parts, 3)
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(b, &c))
		return c
	}

	system, err := New(Config{TenantID: tenantID, ManagedIdentity: true, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	tok, err := system.Token(ctx, srv.DataverseScope(org))
	require.NoError(t, err)
	assert.Equal(t, identityID, claims(tok)["appid"], "the first managed identity of the fixture is the system-assigned one")

	user, err := New(Config{TenantID: tenantID, ManagedIdentity: true, ManagedIdentityClientID: identityID2, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	tok, err = user.Token(ctx, srv.BAPScope())
	require.NoError(t, err)
	assert.Equal(t, identityID2, claims(tok)["appid"])
	assert.Equal(t, "https://service.powerapps.com", claims(tok)["aud"])
	assert.Equal(t, 2, srv.Stats().Credentials["managed_identity"])

	// After a 401 the next request skips MSAL's process-wide cache.
	user.Invalidate(srv.BAPScope())
	_, err = user.Token(ctx, srv.BAPScope())
	require.NoError(t, err)
	assert.Equal(t, 3, srv.Stats().Credentials["managed_identity"])

	// An identity that is not assigned to the host, and a client that is no managed identity.
	for _, id := range []string{"00000000-0000-4000-8000-000000000001", clientID} {
		src, err := New(Config{TenantID: tenantID, ManagedIdentity: true, ManagedIdentityClientID: id, HTTPClient: srv.HTTPClient()})
		require.NoError(t, err)
		_, err = src.Token(ctx, srv.BAPScope())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the managed identity is not assigned to this host")
		assert.Contains(t, err.Error(), "managed identity "+id)
	}

	// A wrong identity header is refused; the header never shows up in the error.
	t.Setenv("IDENTITY_HEADER", "not-the-header")
	src, err := New(Config{TenantID: tenantID, ManagedIdentity: true, ManagedIdentityClientID: identityID, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	_, err = src.Token(ctx, srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), srv.ManagedIdentityHeader())
}

// prompts records the device code messages shown.
type prompts struct {
	mu   sync.Mutex
	msgs []string
}

func (p *prompts) show(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msg)
}

func (p *prompts) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// The administrator signs in once; further audiences come silently from the refresh token.
func TestDeviceCodeSignsInOnceForEveryAudience(t *testing.T) {
	t.Parallel()
	srv := startWith(t, emulator.Options{DeviceCodePolls: 2}, emulator.Client{Name: "Auditor (admin sign-in)", ClientID: publicClient, PublicClient: true})
	var p prompts
	src, err := New(Config{TenantID: tenantID, ClientID: publicClient, AuthorityHost: srv.URL(), DeviceCode: true,
		DeviceCodePrompt: p.show, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	ctx := context.Background()

	// Callers of several audiences at once wait for the one sign-in.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, scope := range []string{srv.BAPScope(), srv.DataverseScope(org), srv.BAPScope()} {
		wg.Go(func() { _, err := src.Token(ctx, scope); errs <- err })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	msgs := p.all()
	require.Len(t, msgs, 1)
	assert.Regexp(t, `^To sign in, use a web browser to open the page https://127\.0\.0\.1:\d+/devicelogin and enter the code [A-Z0-9]{8} to authenticate\.$`, msgs[0])
	assert.Equal(t, map[string]int{"device_code": 1, "refresh_token": 1}, srv.Stats().Credentials)

	// A token an API refused is replaced through the refresh token, past MSAL's cache, without a new sign-in.
	src.Invalidate(srv.DataverseScope(org))
	_, err = src.Token(ctx, srv.DataverseScope(org))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"device_code": 1, "refresh_token": 2}, srv.Stats().Credentials)
	assert.Len(t, p.all(), 1)
}

func TestDeviceCodeRefusals(t *testing.T) {
	t.Parallel()
	srv := startWith(t, emulator.Options{DeviceCodePolls: -1},
		emulator.Client{Name: "Auditor", ClientID: clientID, Secret: secret},
		emulator.Client{Name: "Admin sign-in", ClientID: publicClient, PublicClient: true})

	_, err := New(Config{TenantID: tenantID, ClientID: publicClient, AuthorityHost: srv.URL(), DeviceCode: true})
	assert.ErrorContains(t, err, "needs a terminal")

	// An app registration that does not allow public client flows.
	var p prompts
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), DeviceCode: true, DeviceCodePrompt: p.show, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	_, err = src.Token(context.Background(), srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS7000218")
	assert.Contains(t, err.Error(), "Allow public client flows")

	// Nobody signs in (the emulator never approves): the wait ends with the context.
	src, err = New(Config{TenantID: tenantID, ClientID: publicClient, AuthorityHost: srv.URL(), DeviceCode: true, DeviceCodePrompt: p.show, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = src.Token(ctx, srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the sign-in was not completed in time")
}

func TestExactlyOneCredentialAmongAllKinds(t *testing.T) {
	t.Parallel()
	prompt := func(string) {}
	for name, cfg := range map[string]Config{
		"managed identity and secret":       {ClientID: clientID, ManagedIdentity: true, Secret: "s"},
		"device code and federated":         {ClientID: clientID, DeviceCode: true, DeviceCodePrompt: prompt, FederatedTokenFile: "f"},
		"managed identity client ID alone":  {ClientID: clientID, Secret: "s", ManagedIdentityClientID: identityID},
		"device code without a client ID":   {DeviceCode: true, DeviceCodePrompt: prompt},
		"managed identity without a tenant": {ManagedIdentity: true},
	} {
		t.Run(name, func(t *testing.T) {
			if cfg.TenantID == "" && name != "managed identity without a tenant" {
				cfg.TenantID = tenantID
			}
			_, err := New(cfg)
			assert.Error(t, err)
		})
	}
}

func randomGUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// The device code message comes from the network and is shown on a terminal: it reaches the prompt without
// escape sequences, control characters or bidi controls, its words kept.
func TestDeviceCodeMessageIsCleaned(t *testing.T) {
	t.Parallel()
	srv := startWith(t, emulator.Options{DeviceCodePolls: 1}, emulator.Client{Name: "Admin sign-in", ClientID: publicClient, PublicClient: true})
	hc := srv.HTTPClient()
	hc.Transport = steeredMessage{next: hc.Transport}
	var p prompts
	src, err := New(Config{TenantID: tenantID, ClientID: publicClient, AuthorityHost: srv.URL(), DeviceCode: true, DeviceCodePrompt: p.show, HTTPClient: hc})
	require.NoError(t, err)
	_, err = src.Token(context.Background(), srv.BAPScope())
	require.NoError(t, err)
	assert.Equal(t, []string{"To sign in, open the page https://microsoft.com/devicelogin."}, p.all())
}

// steeredMessage puts a window title, a screen clear, the single-byte CSI, a right-to-left override and a line
// break into the message of the device code answer.
type steeredMessage struct{ next http.RoundTripper }

func (s steeredMessage) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
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
	doc["message"] = "To sign in,\x1b]0;pwned\x07 open\x1b[2J\u009b31m\u202e\nthe page https://microsoft.com/devicelogin."
	if raw, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Del("Content-Length")
	return resp, nil
}
