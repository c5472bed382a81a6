package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/work365/audit/internal/emulator"
)

const (
	tenantID = "3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f"
	clientID = "6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b"
	secret   = "correct-horse-battery-staple"
	// org is the one Dataverse organization of the test tenants; its origin is its token audience.
	org = "Contoso Production"
)

// organizations is the environment list of the test tenants.
var organizations = []emulator.Environment{{Name: org, Dataverse: &emulator.Dataverse{}}}

// newCert makes a self-signed RSA certificate for a client credential.
func newCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "auditor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func start(t *testing.T, cert *x509.Certificate) *emulator.Server {
	t.Helper()
	c := emulator.Client{Name: "Auditor", ClientID: clientID, Secret: secret}
	if cert != nil {
		c.CertificatePEMs = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
	}
	srv, err := emulator.New(&emulator.Fixture{Tenant: emulator.TenantInfo{ID: tenantID, Name: "contoso", Domain: "contoso.onmicrosoft.com"},
		Clients: []emulator.Client{c}, Environments: organizations}, emulator.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestTokensAreReusedPerAudience(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), Secret: secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	ctx := context.Background()
	a1, err := src.Token(ctx, srv.BAPScope())
	require.NoError(t, err)
	a2, err := src.Token(ctx, srv.BAPScope())
	require.NoError(t, err)
	d1, err := src.Token(ctx, srv.DataverseScope(org))
	require.NoError(t, err)
	assert.Equal(t, a1, a2)
	assert.NotEqual(t, a1, d1)
	assert.Equal(t, int64(2), src.Requests())
	dataverse := strings.TrimSuffix(srv.DataverseScope(org), "/.default")
	assert.Equal(t, map[string]int{"https://service.powerapps.com": 1, dataverse: 1}, srv.Stats().TokenRequests)

	// After Invalidate (an API answered 401) the next call asks Entra again, past MSAL's own cache.
	src.Invalidate(srv.BAPScope())
	_, err = src.Token(ctx, srv.BAPScope())
	require.NoError(t, err)
	assert.Equal(t, int64(3), src.Requests())
	assert.Equal(t, 2, srv.Stats().TokenRequests["https://service.powerapps.com"])
	_, err = src.Token(ctx, srv.DataverseScope(org))
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Stats().TokenRequests[dataverse], "other scopes keep their token")
}

func TestConcurrentCallersOfOneScopeShareOneRequest(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), Secret: secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	done := make(chan error, 20)
	for range 20 {
		go func() { _, err := src.Token(context.Background(), srv.DataverseScope(org)); done <- err }()
	}
	for range 20 {
		require.NoError(t, <-done)
	}
	assert.Equal(t, int64(1), src.Requests())
}

func TestAWrongSecretSaysWhatToDoAndNeverShowsTheSecret(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), Secret: "wrong-" + secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	_, err = src.Token(context.Background(), srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS7000215")
	assert.Contains(t, err.Error(), "the client secret is wrong or expired")
	assert.NotContains(t, err.Error(), secret)

	src, err = New(Config{TenantID: tenantID, ClientID: "00000000-0000-0000-0000-000000000009", AuthorityHost: srv.URL(), Secret: secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	_, err = src.Token(context.Background(), srv.BAPScope())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS700016")
	assert.Contains(t, err.Error(), "check tenant_id and client_id")
}

func TestCertificateCredentialsFromPEMAndPFX(t *testing.T) {
	t.Parallel()
	cert, key := newCert(t)
	srv := start(t, cert)
	dir := t.TempDir()

	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pemPath := filepath.Join(dir, "auditor.pem")
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	require.NoError(t, os.WriteFile(pemPath, pemData, 0o600))

	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pfx-password")
	require.NoError(t, err)
	pfxPath := filepath.Join(dir, "auditor.pfx")
	require.NoError(t, os.WriteFile(pfxPath, pfx, 0o600))

	for name, cfg := range map[string]Config{
		"pem": {CertificatePath: pemPath},
		"pfx": {CertificatePath: pfxPath, CertificatePassword: "pfx-password"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.TenantID, cfg.ClientID, cfg.AuthorityHost, cfg.HTTPClient = tenantID, clientID, srv.URL(), srv.HTTPClient()
			src, err := New(cfg)
			require.NoError(t, err)
			tok, err := src.Token(context.Background(), srv.BAPScope())
			require.NoError(t, err)
			assert.NotEmpty(t, tok)
		})
	}

	_, _, err = LoadCertificate(pfxPath, "wrong")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wrong PFX password")
	_, _, err = LoadCertificate(filepath.Join(dir, "missing.pem"), "")
	require.Error(t, err)
}

func TestExactlyOneCredential(t *testing.T) {
	t.Parallel()
	_, err := New(Config{TenantID: tenantID, ClientID: clientID})
	assert.ErrorContains(t, err, "no credential")
	_, err = New(Config{TenantID: tenantID, ClientID: clientID, Secret: "s", FederatedTokenFile: "f"})
	assert.ErrorContains(t, err, "more than one credential")
	_, err = New(Config{TenantID: tenantID, ClientID: clientID, Secret: "s", AuthorityHost: "http://login.example"})
	assert.ErrorContains(t, err, "must be an https URL")
}

// A scan that lets each environment go forgets its organization's token: the Source drops it, and once MSAL's
// cache of the client holds many forgotten tokens the client is replaced, so that a fleet's tokens do not pile
// up; a forgotten scope asked again gets a token again, and the other scopes keep theirs.
func TestForgottenTokensAreLetGo(t *testing.T) {
	t.Parallel()
	srv := start(t, nil)
	src, err := New(Config{TenantID: tenantID, ClientID: clientID, AuthorityHost: srv.URL(), Secret: secret, HTTPClient: srv.HTTPClient()})
	require.NoError(t, err)
	ctx := context.Background()
	bap, dataverse := srv.BAPScope(), srv.DataverseScope(org)
	_, err = src.Token(ctx, bap)
	require.NoError(t, err)
	_, err = src.Token(ctx, dataverse)
	require.NoError(t, err)
	flow := src.flow.(*confidentialFlow)

	src.Forget(dataverse)
	src.Forget(dataverse) // not held any more: nothing to let go
	src.Forget("https://never.example/.default")
	assert.Equal(t, 1, flow.forgotten)
	src.mu.Lock()
	assert.NotContains(t, src.scopes, dataverse)
	assert.Contains(t, src.scopes, bap)
	src.mu.Unlock()

	// Each forgotten token counts, until MSAL's client is replaced with an empty cache.
	for range flowCacheForgotten - 1 {
		_, err = src.Token(ctx, dataverse)
		require.NoError(t, err)
		src.Forget(dataverse)
	}
	assert.Zero(t, flow.forgotten, "the client holding the forgotten tokens was replaced")
	requests := srv.Stats().TokenRequests[strings.TrimSuffix(dataverse, "/.default")]
	_, err = src.Token(ctx, dataverse)
	require.NoError(t, err)
	assert.Equal(t, requests+1, srv.Stats().TokenRequests[strings.TrimSuffix(dataverse, "/.default")], "asked again, the token comes from Entra")
	_, err = src.Token(ctx, bap)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Stats().TokenRequests["https://service.powerapps.com"], "the scopes still held keep their token")
}
