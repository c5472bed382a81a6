package emulator

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	certClientID = "22222222-3333-4444-8555-666666666666"
	fedIssuer    = "https://token.actions.githubusercontent.com"
	fedSubject   = "repo:contoso/audit:ref:refs/heads/main"
)

// testKey is an RSA key with a self-signed certificate, as an app registration's certificate credential.
type testKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "auditor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testKey{key: key, cert: cert, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (k testKey) publicPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// signJWT builds a compact JWS with RS256 or PS256.
func signJWT(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if header["alg"] == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	}
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// certFixture is the minimal fixture plus a client with a certificate and a federated credential.
func certFixture(t *testing.T, cert, fed testKey) *Fixture {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.Clients = append(f.Clients, Client{
		Name: "Certificate Auditor", ClientID: certClientID, CertificatePEMs: [][]byte{cert.pem},
		FederatedIssuers: []FederatedIssuer{{Issuer: fedIssuer, Subject: fedSubject, KeyPEM: fed.publicPEM(t)}},
	})
	return f
}

func TestMSALGetsTokensThatTheAPIsAccept(t *testing.T) {
	t.Parallel()
	cert := newTestKey(t)
	srv := startFixture(t, certFixture(t, cert, newTestKey(t)), Options{})

	secretCred, err := confidential.NewCredFromSecret(auditorSecret)
	require.NoError(t, err)
	certCred, err := confidential.NewCredFromCert([]*x509.Certificate{cert.cert}, cert.key)
	require.NoError(t, err)

	tests := []struct {
		name     string
		clientID string
		cred     confidential.Credential
		opts     []confidential.Option
	}{
		{"secret", auditorID, secretCred, nil},
		{"certificate", certClientID, certCred, nil},
		{"certificate with x5c", certClientID, certCred, []confidential.Option{confidential.WithX5C()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]confidential.Option{confidential.WithHTTPClient(srv.HTTPClient()), confidential.WithInstanceDiscovery(false)}, tt.opts...)
			client, err := confidential.New(srv.Authority(), tt.clientID, tt.cred, opts...)
			require.NoError(t, err)
			ctx := context.Background()

			dv, err := client.AcquireTokenByCredential(ctx, []string{srv.DataverseScope(prod)})
			require.NoError(t, err)
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), dv.AccessToken, "")
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			assert.Equal(t, srv.UserID(prod, tt.clientID), resp.object(t)["UserId"])

			bap, err := client.AcquireTokenByCredential(ctx, []string{srv.BAPScope()})
			require.NoError(t, err)
			resp = call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"?api-version=2020-10-01", bap.AccessToken, "")
			assert.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		})
	}
}

func TestAccessTokenClaims(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := startServer(t, Options{Now: func() time.Time { return now }})
	resp := postForm(t, srv, srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {auditorID}, "client_secret": {auditorSecret},
		"scope": {srv.BAPScope() + " offline_access openid profile"},
	})
	require.Equal(t, http.StatusOK, resp.status)
	body := resp.object(t)
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Equal(t, float64(3599), body["expires_in"])
	assert.Equal(t, float64(3599), body["ext_expires_in"])

	parts := strings.Split(body["access_token"].(string), ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.Equal(t, "https://service.powerapps.com", claims["aud"])
	assert.Equal(t, "https://sts.windows.net/"+testTenantID+"/", claims["iss"])
	assert.Equal(t, testTenantID, claims["tid"])
	assert.Equal(t, auditorID, claims["appid"])
	assert.Equal(t, "1.0", claims["ver"])
	assert.Equal(t, float64(now.Unix()), claims["iat"])
	assert.Equal(t, float64(now.Unix()), claims["nbf"])
	assert.Equal(t, float64(now.Add(3599*time.Second).Unix()), claims["exp"])
	var appUser map[string]any
	for _, r := range srv.Rows(prod, "systemusers") {
		if r["applicationid"] == auditorID {
			appUser = r
		}
	}
	require.NotNil(t, appUser)
	assert.Equal(t, appUser["azureactivedirectoryobjectid"], claims["oid"], "oid is the service principal's object ID, as on the application user")
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	good := func(mod func(url.Values)) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {auditorID}, "client_secret": {auditorSecret},
			"scope": {srv.BAPScope() + " openid offline_access profile"}}
		mod(v)
		return v
	}
	tests := []struct {
		name     string
		tenant   string
		form     url.Values
		status   int
		code     string
		aadsts   string
		contains string
	}{
		{"wrong secret", testTenantID, good(func(v url.Values) { v.Set("client_secret", "not-the-secret") }),
			401, "invalid_client", "7000215", "Invalid client secret provided."},
		{"unknown client", testTenantID, good(func(v url.Values) { v.Set("client_id", "99999999-9999-4999-8999-999999999999") }),
			400, "unauthorized_client", "700016", "Application with identifier '99999999-9999-4999-8999-999999999999' was not found in the directory 'contoso'."},
		{"unknown tenant", "fabrikam.onmicrosoft.com", good(func(url.Values) {}),
			400, "invalid_request", "90002", "Tenant 'fabrikam.onmicrosoft.com' not found."},
		{"unsupported grant", testTenantID, good(func(v url.Values) { v.Set("grant_type", "password") }),
			400, "unsupported_grant_type", "70003", "unsupported grant type 'password'"},
		{"scope without .default", testTenantID, good(func(v url.Values) { v.Set("scope", "https://service.powerapps.com/user_impersonation") }),
			400, "invalid_scope", "1002012", "Client credential flows must have a scope value with /.default"},
		{"two resources", testTenantID, good(func(v url.Values) { v.Set("scope", srv.BAPScope()+" "+srv.DataverseScope(prod)) }),
			400, "invalid_scope", "28000", "contains more than one resource"},
		{"no scope", testTenantID, good(func(v url.Values) { v.Set("scope", "openid profile offline_access") }),
			400, "invalid_request", "900144", "'scope'"},
		{"unknown resource", testTenantID, good(func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/.default") }),
			400, "invalid_resource", "500011", "The resource principal named https://graph.microsoft.com was not found in the tenant named contoso."},
		{"the main listener is no organization", testTenantID, good(func(v url.Values) { v.Set("scope", srv.URL()+"/.default") }),
			400, "invalid_resource", "500011", "The resource principal named " + srv.URL() + " was not found"},
		{"an organization's path on the main listener", testTenantID, good(func(v url.Values) { v.Set("scope", srv.URL()+"/org/contosoprod/.default") }),
			400, "invalid_resource", "500011", "The resource principal named " + srv.URL() + "/org/contosoprod was not found"},
		{"no credential", testTenantID, good(func(v url.Values) { v.Del("client_secret") }),
			401, "invalid_client", "7000216", "'client_assertion', 'client_secret' or 'request' is required"},
		{"malformed assertion", testTenantID, good(func(v url.Values) {
			v.Del("client_secret")
			v.Set("client_assertion_type", clientAssertionTypeJWT)
			v.Set("client_assertion", "not.a-jwt")
		}), 400, "invalid_request", "50027", "JWT token is invalid or malformed."},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp := postForm(t, srv, srv.URL()+"/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
				require.Equal(t, tt.status, resp.status, "%s", resp.body)
				assert.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))
				body := resp.object(t)
				assert.Equal(t, tt.code, body["error"])
				desc := body["error_description"].(string)
				assert.True(t, strings.HasPrefix(desc, "AADSTS"+tt.aadsts+": "), desc)
				assert.Contains(t, desc, tt.contains)
				assert.Regexp(t, `\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`, desc)
				assert.Equal(t, []any{json.Number(tt.aadsts)}, numbers(t, resp.body))
				assert.Equal(t, "https://login.microsoftonline.com/error?code="+tt.aadsts, body["error_uri"])
				assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`, body["timestamp"])
				assert.Equal(t, body["trace_id"], resp.header.Get("x-ms-request-id"))
				assert.NotEmpty(t, body["correlation_id"])
				assert.NotContains(t, string(resp.body), "not-the-secret")
				assert.NotContains(t, string(resp.body), auditorSecret)
			})
		}
	})
	assert.Equal(t, len(tests), srv.Stats().TokenErrors)
	assert.Empty(t, srv.Stats().TokenRequests)
}

// numbers reads error_codes keeping their exact text.
func numbers(t *testing.T, body []byte) []any {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m["error_codes"].([]any)
}

func TestClientAssertions(t *testing.T) {
	t.Parallel()
	cert, fed, other := newTestKey(t), newTestKey(t), newTestKey(t)
	srv := startFixture(t, certFixture(t, cert, fed), Options{})
	endpoint := srv.Authority() + "/oauth2/v2.0/token"
	sha256Thumb := func(c *x509.Certificate) string {
		h := sha256.Sum256(c.Raw)
		return base64.StdEncoding.EncodeToString(h[:])
	}
	sha1Thumb := func(c *x509.Certificate) string { h := sha1.Sum(c.Raw); return base64.StdEncoding.EncodeToString(h[:]) }
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": endpoint, "iss": certClientID, "sub": certClientID, "jti": "1",
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		mod(c)
		return c
	}
	fedClaims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": federatedTokenAudience, "iss": fedIssuer, "sub": fedSubject,
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		mod(c)
		return c
	}
	keep := func(map[string]any) {}
	ps256 := map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": sha256Thumb(cert.cert)}
	rs256 := map[string]any{"alg": "RS256", "typ": "JWT", "x5t": sha1Thumb(cert.cert)}

	tests := []struct {
		name      string
		assertion string
		status    int
		aadsts    string
	}{
		{"PS256 with x5t#S256", signJWT(t, cert.key, ps256, claims(keep)), 200, ""},
		{"RS256 with x5t", signJWT(t, cert.key, rs256, claims(keep)), 200, ""},
		{"signed by another key", signJWT(t, other.key, ps256, claims(keep)), 401, "700027"},
		{"unregistered thumbprint", signJWT(t, other.key, map[string]any{"alg": "PS256", "x5t#S256": sha256Thumb(other.cert)}, claims(keep)), 401, "700027"},
		{"x5c of another certificate", signJWT(t, cert.key, map[string]any{"alg": "PS256", "x5t#S256": sha256Thumb(cert.cert),
			"x5c": []string{base64.StdEncoding.EncodeToString(other.cert.Raw)}}, claims(keep)), 401, "700027"},
		{"wrong audience", signJWT(t, cert.key, ps256, claims(func(c map[string]any) { c["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token" })), 401, "700027"},
		{"expired", signJWT(t, cert.key, ps256, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), 401, "700024"},
		{"subject is not the client", signJWT(t, cert.key, ps256, claims(func(c map[string]any) { c["sub"] = auditorID })), 401, "700021"},
		{"federated", signJWT(t, fed.key, map[string]any{"alg": "RS256", "kid": "k1"}, fedClaims(keep)), 200, ""},
		{"federated from another issuer", signJWT(t, fed.key, map[string]any{"alg": "RS256"}, fedClaims(func(c map[string]any) { c["iss"] = "https://evil.example" })), 401, "700211"},
		{"federated with another subject", signJWT(t, fed.key, map[string]any{"alg": "RS256"}, fedClaims(func(c map[string]any) { c["sub"] = "repo:contoso/other:ref:refs/heads/main" })), 401, "700213"},
		{"federated with another audience", signJWT(t, fed.key, map[string]any{"alg": "RS256"}, fedClaims(func(c map[string]any) { c["aud"] = "api://other" })), 401, "700212"},
		{"federated signed by another key", signJWT(t, other.key, map[string]any{"alg": "RS256"}, fedClaims(keep)), 401, "700027"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := postForm(t, srv, endpoint, url.Values{
				"grant_type": {"client_credentials"}, "client_id": {certClientID}, "scope": {srv.DataverseScope(prod)},
				"client_assertion_type": {clientAssertionTypeJWT}, "client_assertion": {tt.assertion},
			})
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			if tt.status == 200 {
				assert.NotEmpty(t, resp.object(t)["access_token"])
				return
			}
			assert.Equal(t, "invalid_client", resp.object(t)["error"])
			assert.True(t, strings.HasPrefix(resp.object(t)["error_description"].(string), "AADSTS"+tt.aadsts+": "), "%s", resp.body)
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	for _, tenant := range []string{testTenantID, "contoso.onmicrosoft.com"} {
		resp := call(t, srv, http.MethodGet, srv.URL()+"/"+tenant+"/v2.0/.well-known/openid-configuration", "", "")
		require.Equal(t, http.StatusOK, resp.status)
		doc := resp.object(t)
		base := srv.URL() + "/" + testTenantID
		assert.Equal(t, base+"/v2.0", doc["issuer"])
		assert.Equal(t, base+"/oauth2/v2.0/token", doc["token_endpoint"])
		assert.Equal(t, base+"/oauth2/v2.0/authorize", doc["authorization_endpoint"])
		assert.Equal(t, base+"/oauth2/v2.0/devicecode", doc["device_authorization_endpoint"])
		assert.Equal(t, base+"/discovery/v2.0/keys", doc["jwks_uri"])
	}
	resp := call(t, srv, http.MethodGet, srv.URL()+"/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration", "", "")
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "invalid_tenant", resp.errorCode(t))
}
