package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	identityClientID = "77777777-8888-4999-8aaa-bbbbbbbbbbbb"
	adminAppID       = "88888888-9999-4aaa-8bbb-cccccccccccc"
)

// signInFixture is the minimal fixture plus a managed identity and a public client for administrators.
func signInFixture(t *testing.T) *Fixture {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.Clients = append(f.Clients,
		Client{Name: "Web app identity", ClientID: identityClientID, ManagedIdentity: true},
		Client{Name: "Audit (admin sign-in)", ClientID: adminAppID, PublicClient: true})
	return f
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	return c
}

func identityRequest(t *testing.T, srv *Server, header string, query url.Values) apiResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.ManagedIdentityEndpoint()+"?"+query.Encode(), nil)
	require.NoError(t, err)
	if header != "" {
		req.Header.Set("X-IDENTITY-HEADER", header)
	}
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	t.Parallel()
	srv := startFixture(t, signInFixture(t), Options{})
	assert.Equal(t, srv.URL()+"/msi/token", srv.ManagedIdentityEndpoint())
	assert.Len(t, srv.ManagedIdentityHeader(), 48)
	q := func(kv ...string) url.Values {
		v := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://service.powerapps.com"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}

	t.Run("system-assigned", func(t *testing.T) {
		t.Parallel()
		resp := identityRequest(t, srv, srv.ManagedIdentityHeader(), q("resource", srv.DataverseScope(prod)))
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		body := resp.object(t)
		assert.Equal(t, "Bearer", body["token_type"])
		assert.Equal(t, strings.TrimSuffix(srv.InstanceURL(prod), "/"), body["resource"], "the resource without /.default")
		assert.Equal(t, identityClientID, body["client_id"])
		expires, err := strconv.ParseInt(body["expires_on"].(string), 10, 64)
		require.NoError(t, err, "expires_on is a string of Unix seconds, as App Service answers")
		assert.InDelta(t, time.Now().Add(defaultTokenLifetime).Unix(), expires, 5)
		tok := body["access_token"].(string)
		assert.Equal(t, identityClientID, jwtClaims(t, tok)["appid"])
		assert.Equal(t, "2", jwtClaims(t, tok)["appidacr"])

		// Dataverse answers as the identity's application user.
		who := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
		require.Equal(t, http.StatusOK, who.status, "%s", who.body)
		assert.Equal(t, srv.UserID(prod, identityClientID), who.object(t)["UserId"])
	})
	t.Run("user-assigned by client ID", func(t *testing.T) {
		t.Parallel()
		resp := identityRequest(t, srv, srv.ManagedIdentityHeader(), q("client_id", strings.ToUpper(identityClientID)))
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		tok := resp.object(t)["access_token"].(string)
		bap := call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"?api-version=2020-10-01", tok, "")
		assert.Equal(t, http.StatusOK, bap.status, "%s", bap.body)
	})
	for _, tc := range []struct {
		name, header string
		query        url.Values
		status       int
		message      string
	}{
		{"no header", "", q(), 401, "X-IDENTITY-HEADER"},
		{"wrong header", "not-the-header", q(), 401, "X-IDENTITY-HEADER"},
		{"other api-version", srv.ManagedIdentityHeader(), q("api-version", "2017-09-01"), 400, "api-version"},
		{"no resource", srv.ManagedIdentityHeader(), q("resource", ""), 400, "resource"},
		{"unknown identity", srv.ManagedIdentityHeader(), q("client_id", unregisteredID), 400, "Unable to load the proper Managed Identity."},
		{"a client that is no managed identity", srv.ManagedIdentityHeader(), q("client_id", auditorID), 400, "Unable to load the proper Managed Identity."},
		{"by principal ID", srv.ManagedIdentityHeader(), q("principal_id", unregisteredID), 400, "by client_id only"},
		{"unknown resource", srv.ManagedIdentityHeader(), q("resource", "https://graph.microsoft.com"), 400, "AADSTS500011"},
		{"the main listener is no organization", srv.ManagedIdentityHeader(), q("resource", srv.URL()), 400, "AADSTS500011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := identityRequest(t, srv, tc.header, tc.query)
			require.Equal(t, tc.status, resp.status, "%s", resp.body)
			body := resp.object(t)
			assert.EqualValues(t, tc.status, body["statusCode"])
			assert.Contains(t, body["message"], tc.message)
			assert.NotEmpty(t, body["correlationId"])
			assert.NotContains(t, string(resp.body), srv.ManagedIdentityHeader())
		})
	}
}

func TestManagedIdentityNeedsAMarkedClient(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	resp := identityRequest(t, srv, srv.ManagedIdentityHeader(), url.Values{"api-version": {"2019-08-01"}, "resource": {"https://service.powerapps.com"}})
	assert.Equal(t, http.StatusBadRequest, resp.status, "without a managed_identity client there is no system-assigned identity")
}

// clock is an Options.Now that tests move forward.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestDeviceCodeFlow(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	srv := startFixture(t, signInFixture(t), Options{DeviceCodePolls: 2, Now: clk.Now})
	base := srv.URL() + "/" + testTenantID + "/oauth2/v2.0/"
	start := func(clientID string) (string, map[string]any) {
		resp := postForm(t, srv, base+"devicecode", url.Values{"client_id": {clientID}, "scope": {srv.BAPScope() + " openid offline_access profile"}})
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		body := resp.object(t)
		return body["device_code"].(string), body
	}
	code, body := start(adminAppID)
	assert.Regexp(t, `^[A-Z2-9]{8}$`, body["user_code"])
	assert.Equal(t, srv.URL()+"/devicelogin", body["verification_uri"])
	assert.EqualValues(t, 900, body["expires_in"])
	assert.EqualValues(t, 5, body["interval"])
	assert.Equal(t, "To sign in, use a web browser to open the page "+srv.URL()+"/devicelogin and enter the code "+body["user_code"].(string)+" to authenticate.", body["message"])
	assert.NotContains(t, code, ".", "device codes are opaque")

	poll := func(grant, code, clientID string) apiResponse {
		return postForm(t, srv, base+"token", url.Values{"grant_type": {grant}, "device_code": {code}, "client_id": {clientID},
			"client_info": {"1"}, "scope": {srv.BAPScope() + " openid offline_access profile"}})
	}
	for range 2 {
		resp := poll("device_code", code, adminAppID)
		require.Equal(t, http.StatusBadRequest, resp.status, "%s", resp.body)
		assert.Equal(t, "authorization_pending", resp.errorCode(t))
		assert.Contains(t, resp.object(t)["error_description"], "AADSTS70016: ")
	}
	resp := poll(grantDeviceCode, code, adminAppID)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	tokens := resp.object(t)
	assert.Equal(t, "https://service.powerapps.com/user_impersonation https://service.powerapps.com/.default", tokens["scope"])
	assert.EqualValues(t, 3599, tokens["expires_in"])
	access := jwtClaims(t, tokens["access_token"].(string))
	assert.Equal(t, adminAppID, access["appid"])
	assert.Equal(t, "user", access["idtyp"])
	assert.Equal(t, "admin@contoso.onmicrosoft.com", access["upn"])
	id := jwtClaims(t, tokens["id_token"].(string))
	assert.Equal(t, srv.URL()+"/"+testTenantID+"/v2.0", id["iss"])
	assert.Equal(t, adminAppID, id["aud"])
	assert.Equal(t, testTenantID, id["tid"])
	assert.Equal(t, "admin@contoso.onmicrosoft.com", id["preferred_username"])
	assert.Equal(t, "Emulated Administrator", id["name"])
	assert.Equal(t, id["oid"], id["sub"])
	info, err := base64.RawURLEncoding.DecodeString(tokens["client_info"].(string))
	require.NoError(t, err)
	assert.JSONEq(t, `{"uid":"`+id["oid"].(string)+`","utid":"`+testTenantID+`"}`, string(info))
	refresh := tokens["refresh_token"].(string)
	assert.Regexp(t, `^0\.A[A-Za-z0-9_-]+$`, refresh, "refresh tokens are opaque, shaped like Entra's")

	// The BAP list and WhoAmI answer the signed-in administrator's token (as the public client's application user).
	bap := call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"?api-version=2020-10-01", tokens["access_token"].(string), "")
	assert.Equal(t, http.StatusOK, bap.status, "%s", bap.body)

	// A code is redeemed once.
	resp = poll("device_code", code, adminAppID)
	assert.Equal(t, "invalid_grant", resp.errorCode(t))

	// The refresh token gets other audiences, for its own client only.
	refreshWith := func(rt, clientID, scope string) apiResponse {
		return postForm(t, srv, base+"token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID},
			"client_info": {"1"}, "scope": {scope + " openid offline_access profile"}, "claims": {`{"access_token":{"nbf":{"essential":true,"value":"1"}}}`}})
	}
	resp = refreshWith(refresh, adminAppID, srv.DataverseScope(prod))
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	dv := resp.object(t)["access_token"].(string)
	who := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), dv, "")
	require.Equal(t, http.StatusOK, who.status, "%s", who.body)
	assert.Equal(t, srv.UserID(prod, adminAppID), who.object(t)["UserId"])
	assert.Equal(t, "invalid_grant", refreshWith(refresh, auditorID, srv.DataverseScope(prod)).errorCode(t))
	assert.Equal(t, "invalid_grant", refreshWith("0.Anot-a-refresh-token", adminAppID, srv.DataverseScope(prod)).errorCode(t))

	// A client without public client flows, a code past its lifetime, a device code of another client.
	other, _ := start(auditorID)
	resp = poll("device_code", other, auditorID)
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	assert.Contains(t, resp.object(t)["error_description"], "AADSTS7000218: ")
	assert.Equal(t, "invalid_grant", poll("device_code", other, adminAppID).errorCode(t))
	late, _ := start(adminAppID)
	clk.add(16 * time.Minute)
	resp = poll("device_code", late, adminAppID)
	assert.Equal(t, "expired_token", resp.errorCode(t))
	assert.Contains(t, resp.object(t)["error_description"], "AADSTS70019: ")

	assert.Equal(t, map[string]int{"device_code": 1, "refresh_token": 1}, srv.Stats().Credentials)
}

func TestDeviceLoginPageAndUnknownScopes(t *testing.T) {
	t.Parallel()
	srv := startFixture(t, signInFixture(t), Options{})
	resp, err := srv.HTTPClient().Get(srv.URL() + "/devicelogin")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	base := srv.URL() + "/" + testTenantID + "/oauth2/v2.0/"
	bad := postForm(t, srv, base+"devicecode", url.Values{"client_id": {adminAppID}, "scope": {"https://graph.microsoft.com/.default openid"}})
	assert.Equal(t, "invalid_resource", bad.errorCode(t))
	bad = postForm(t, srv, base+"devicecode", url.Values{"client_id": {unregisteredID[:8]}, "scope": {srv.BAPScope()}})
	assert.Equal(t, "unauthorized_client", bad.errorCode(t))
	good := postForm(t, srv, base+"devicecode", url.Values{"client_id": {adminAppID}, "scope": {"https://service.powerapps.com/user_impersonation"}})
	assert.Equal(t, http.StatusOK, good.status, "%s", good.body)
	unknown := postForm(t, srv, srv.URL()+"/fabrikam.onmicrosoft.com/oauth2/v2.0/devicecode", url.Values{"client_id": {adminAppID}, "scope": {srv.BAPScope()}})
	assert.Equal(t, http.StatusBadRequest, unknown.status)
}

func TestCredentialsStatsNameTheCredential(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	_ = bapToken(t, srv)
	assert.Equal(t, map[string]int{"client_secret": 1}, srv.Stats().Credentials)
}

func TestSignInKeysInAFixture(t *testing.T) {
	t.Parallel()
	f, err := ParseFixture([]byte(`tenant: {name: fabrikam}
clients:
  - {name: Web app identity, client_id: `+identityClientID+`, managed_identity: true}
  - {name: Admin sign-in, client_id: `+adminAppID+`, public_client: true}
`), "")
	require.NoError(t, err)
	assert.True(t, f.Clients[0].ManagedIdentity)
	assert.True(t, f.Clients[1].PublicClient)
	_, err = ParseFixture([]byte("tenant: {name: fabrikam}\nclients:\n  - {name: A, client_id: "+adminAppID+", public_clients: true}\n"), "")
	assert.ErrorContains(t, err, "public_clients")
}
