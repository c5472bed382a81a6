package emulator

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	minimalFixture = "../../testdata/tenants/minimal.yaml"
	testTenantID   = "3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f"
	auditorID      = "11111111-2222-4333-8444-555555555555"
	auditorSecret  = "demo-secret"
	unregisteredID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	work365US      = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
	work365EU      = "5e56ae97-9be1-40d3-938b-99ea52175a30"
	prod           = "Contoso Production"
	sandbox        = "Contoso Sandbox"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	return startFixture(t, f, opts)
}

func startFixture(t *testing.T, f *Fixture, opts Options) *Server {
	t.Helper()
	srv, err := New(f, opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	return srv
}

// apiResponse is a whole HTTP answer, read at once.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (a apiResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// errorCode reads {"error":{"code":…}} (Dataverse and BAP) or {"error":"…"} (Entra).
func (a apiResponse) errorCode(t *testing.T) string {
	t.Helper()
	switch e := a.object(t)["error"].(type) {
	case map[string]any:
		return fmt.Sprint(e["code"])
	case string:
		return e
	}
	return ""
}

func (a apiResponse) errorMessage(t *testing.T) string {
	t.Helper()
	e, _ := a.object(t)["error"].(map[string]any)
	return fmt.Sprint(e["message"])
}

func (a apiResponse) values(t *testing.T) []map[string]any {
	t.Helper()
	raw, ok := a.object(t)["value"].([]any)
	require.True(t, ok, "no value array in %s", a.body)
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		out = append(out, v.(map[string]any))
	}
	return out
}

// call sends one request; headers come as name, value pairs.
func call(t *testing.T, srv *Server, method, rawURL, token, body string, headers ...string) apiResponse {
	t.Helper()
	resp, err := send(context.Background(), srv, method, rawURL, token, body, headers...)
	require.NoError(t, err)
	return resp
}

func send(ctx context.Context, srv *Server, method, rawURL, token, body string, headers ...string) (apiResponse, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.ReplaceAll(rawURL, " ", "%20"), rd)
	if err != nil {
		return apiResponse{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		return apiResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, err
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// secretToken gets a token from the token endpoint with a client secret.
func secretToken(t *testing.T, srv *Server, clientID, secret, scope string) string {
	t.Helper()
	resp := postForm(t, srv, srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
		"scope": {scope + " openid offline_access profile"},
	})
	require.Equal(t, http.StatusOK, resp.status, "token: %s", resp.body)
	return resp.object(t)["access_token"].(string)
}

func postForm(t *testing.T, srv *Server, endpoint string, form url.Values) apiResponse {
	t.Helper()
	resp, err := srv.HTTPClient().PostForm(endpoint, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// dvToken is the auditor's Dataverse token for Contoso Production, the organization most tests call.
func dvToken(t *testing.T, srv *Server) string {
	return orgToken(t, srv, prod)
}

// orgToken is the auditor's Dataverse token for one organization; it opens no other.
func orgToken(t *testing.T, srv *Server, env string) string {
	return secretToken(t, srv, auditorID, auditorSecret, srv.DataverseScope(env))
}

func bapToken(t *testing.T, srv *Server) string {
	return secretToken(t, srv, auditorID, auditorSecret, srv.BAPScope())
}

func dvURL(srv *Server, env, path string) string {
	return srv.InstanceURL(env) + "api/data/v9.2/" + path
}

func names(rows []map[string]any, col string) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[col]))
	}
	return out
}

func TestServerEndpoints(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})

	assert.Regexp(t, `^https://127\.0\.0\.1:\d+$`, srv.URL())
	assert.Equal(t, testTenantID, srv.TenantID())
	assert.Equal(t, srv.URL()+"/"+testTenantID, srv.Authority())
	assert.Equal(t, srv.URL(), srv.BAPURL())
	assert.Equal(t, "https://service.powerapps.com/.default", srv.BAPScope())
	assert.Regexp(t, `^https://127\.0\.0\.1:\d+/$`, srv.InstanceURL(prod))
	assert.Regexp(t, `^https://127\.0\.0\.1:\d+/$`, srv.InstanceURL("CONTOSODEV"))
	assert.NotEqual(t, srv.InstanceURL(prod), srv.InstanceURL(sandbox), "each organization has its own origin")
	assert.NotEqual(t, srv.URL()+"/", srv.InstanceURL(prod))
	assert.Equal(t, srv.InstanceURL(prod)+".default", srv.DataverseScope(prod))
	assert.Empty(t, srv.InstanceURL("Contoso Teams"), "an environment without Dataverse has no instance URL")
	assert.Empty(t, srv.DataverseScope("Contoso Teams"))
	assert.Empty(t, srv.DataverseScope("nowhere"))
	assert.Equal(t, deterministicID(testTenantID, "environment", "contoso production"), srv.EnvironmentID(prod))

	block, _ := pem.Decode(srv.CACertPEM())
	require.NotNil(t, block)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)

	// The CA is the only trust: a default client must refuse the certificate.
	_, err = http.Get(srv.URL() + "/" + testTenantID + "/v2.0/.well-known/openid-configuration")
	require.Error(t, err)
	var unknownAuthority x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknownAuthority)

	resp := call(t, srv, http.MethodGet, srv.URL()+"/nowhere", "", "")
	assert.Equal(t, http.StatusNotFound, resp.status)

	// The main listener is no organization, and an organization serves nothing but its Web API.
	tok := dvToken(t, srv)
	for _, u := range []string{srv.URL() + "/api/data/v9.2/WhoAmI", srv.URL() + "/org/contosoprod/api/data/v9.2/WhoAmI", srv.InstanceURL(prod) + "nowhere"} {
		resp = call(t, srv, http.MethodGet, u, tok, "")
		assert.Equal(t, http.StatusNotFound, resp.status, u)
		assert.Equal(t, "0x80060888", resp.errorCode(t), u)
	}
}

func TestLogNeverShowsCredentials(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lines []string
	srv := startServer(t, Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	tok := dvToken(t, srv)
	call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
	postForm(t, srv, srv.Authority()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {auditorID}, "client_secret": {"wrong-secret-value"}, "scope": {srv.BAPScope()},
	})

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 3)
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "GET /api/data/v9.2/WhoAmI on contosoprod -> 200")
	assert.Contains(t, all, "POST /"+testTenantID+"/oauth2/v2.0/token -> 401")
	for _, secret := range []string{tok, auditorSecret, "wrong-secret-value", strings.Split(tok, ".")[1]} {
		assert.NotContains(t, all, secret)
	}
}

func TestStatsAndReset(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	bap := bapToken(t, srv)
	call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
	call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers"), tok, "")
	call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+srv.UserID(prod, "svc")+")"), tok, `{"isdisabled":false}`)
	call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"?api-version=2021-04-01", bap, "")

	st := srv.Stats()
	assert.Equal(t, 4, st.Requests)
	assert.Equal(t, map[string]int{strings.TrimSuffix(srv.InstanceURL(prod), "/"): 1, "https://service.powerapps.com": 1}, st.TokenRequests)
	assert.Equal(t, EnvStats{Requests: 3, Writes: 1, MaxInFlight: 1}, st.ByEnvironment[srv.EnvironmentID(prod)])
	assert.Equal(t, 1, st.MaxInFlight)

	writes := srv.Writes()
	require.Len(t, writes, 1)
	assert.Equal(t, http.MethodPatch, writes[0].Method)
	assert.Equal(t, "/api/data/v9.2/systemusers("+srv.UserID(prod, "svc")+")", writes[0].Path)
	assert.Equal(t, `{"isdisabled":false}`, writes[0].Body)
	assert.Equal(t, http.StatusNoContent, writes[0].Status)
	assert.Equal(t, srv.EnvironmentID(prod), writes[0].EnvironmentID)

	srv.ResetStats()
	st = srv.Stats()
	assert.Zero(t, st.Requests)
	assert.Empty(t, st.TokenRequests)
	assert.Empty(t, st.ByEnvironment)
}

func TestRowsIsADeepCopy(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	rows := srv.Rows(prod, "roles")
	require.NotEmpty(t, rows)
	rows[0]["name"] = "changed"
	rows[0]["iscustomizable"].(map[string]any)["Value"] = false
	again := srv.Rows(prod, "roles")
	assert.NotEqual(t, "changed", again[0]["name"])
	assert.Equal(t, true, again[0]["iscustomizable"].(map[string]any)["Value"])
	assert.Contains(t, again[0], "@odata.etag")
	assert.Nil(t, srv.Rows(prod, "nosuch"))
	assert.Nil(t, srv.Rows("Contoso Teams", "roles"))
}

func TestCloseReleasesThePort(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	srv, err := New(f, Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	start := time.Now()
	require.NoError(t, srv.Close())
	assert.Less(t, time.Since(start), 10*time.Second, "Close does not wait for idle connections to time out")
	_, err = srv.HTTPClient().Get(srv.URL())
	assert.Error(t, err)
}
