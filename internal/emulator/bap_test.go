package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bapListURL(srv *Server, version string) string {
	u := srv.BAPURL() + bapEnvironmentsPath
	if version != "" {
		u += "?api-version=" + version
	}
	return u
}

func TestBAPListShape(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := bapToken(t, srv)
	for _, version := range []string{"2020-10-01", "2021-04-01", "2023-06-01"} {
		t.Run(version, func(t *testing.T) {
			resp := call(t, srv, http.MethodGet, bapListURL(srv, version), tok, "")
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			assert.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))
			items := resp.values(t)
			require.Len(t, items, 3)
			assert.NotContains(t, resp.object(t), "nextLink")

			prodItem := items[0]
			id := srv.EnvironmentID(prod)
			assert.Equal(t, id, prodItem["name"])
			assert.Equal(t, bapEnvironmentsPath+"/"+id, prodItem["id"])
			assert.Equal(t, "Microsoft.BusinessAppPlatform/scopes/environments", prodItem["type"])
			assert.Equal(t, "unitedstates", prodItem["location"])
			props := prodItem["properties"].(map[string]any)
			assert.Equal(t, testTenantID, props["tenantId"])
			assert.Equal(t, "westus", props["azureRegion"])
			assert.Equal(t, prod, props["displayName"])
			assert.Equal(t, "Production", props["environmentSku"])
			assert.Equal(t, false, props["isDefault"])
			assert.Equal(t, "CommonDataService", props["databaseType"])
			assert.Equal(t, "Enabled", props["states"].(map[string]any)["runtime"].(map[string]any)["id"])
			linked := props["linkedEnvironmentMetadata"].(map[string]any)
			assert.Equal(t, srv.InstanceURL(prod), linked["instanceUrl"])
			assert.Regexp(t, `^https://127\.0\.0\.1:\d+/$`, linked["instanceUrl"], "each organization has its own origin")
			assert.NotEqual(t, srv.URL()+"/", linked["instanceUrl"])
			assert.Equal(t, strings.TrimSuffix(srv.InstanceURL(prod), "/"), linked["instanceApiUrl"])
			assert.Equal(t, "contosoprod", linked["domainName"])
			assert.Equal(t, "contosoprod", linked["uniqueName"])
			assert.Equal(t, "9.2.24101.00150", linked["version"])
			assert.Equal(t, "Ready", linked["instanceState"])
			assert.Equal(t, prod, linked["friendlyName"])

			sandboxProps := items[1]["properties"].(map[string]any)
			assert.Equal(t, "europe", items[1]["location"])
			assert.Equal(t, "westeurope", sandboxProps["azureRegion"])
			assert.Equal(t, "Sandbox", sandboxProps["environmentSku"])

			teams := items[2]["properties"].(map[string]any)
			assert.Equal(t, "Teams", teams["environmentSku"])
			assert.Contains(t, teams, "linkedEnvironmentMetadata")
			assert.Nil(t, teams["linkedEnvironmentMetadata"])
			assert.Equal(t, "None", teams["databaseType"])
		})
	}
}

func TestBAPPaging(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{MaxPageSize: 2})
	tok := bapToken(t, srv)
	first := call(t, srv, http.MethodGet, bapListURL(srv, "2023-06-01"), tok, "")
	require.Equal(t, http.StatusOK, first.status)
	var display []string
	for _, it := range first.values(t) {
		display = append(display, it["properties"].(map[string]any)["displayName"].(string))
	}
	next, ok := first.object(t)["nextLink"].(string)
	require.True(t, ok)
	assert.Equal(t, srv.BAPURL()+bapEnvironmentsPath+"?$skiptoken=2&api-version=2023-06-01", next)

	second := call(t, srv, http.MethodGet, next, tok, "")
	require.Equal(t, http.StatusOK, second.status)
	for _, it := range second.values(t) {
		display = append(display, it["properties"].(map[string]any)["displayName"].(string))
	}
	assert.NotContains(t, second.object(t), "nextLink")
	assert.Equal(t, []string{prod, sandbox, "Contoso Teams"}, display)
}

func TestBAPErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	good := bapToken(t, srv)
	tests := []struct {
		name    string
		url     string
		token   string
		status  int
		code    string
		message string
	}{
		{"missing api-version", bapListURL(srv, ""), good, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."},
		{"unsupported api-version", bapListURL(srv, "2019-01-01"), good, 400, "InvalidApiVersionParameter", "The api-version '2019-01-01' is invalid. The supported versions are '2020-10-01,2021-04-01,2023-06-01'."},
		{"no token", bapListURL(srv, "2020-10-01"), "", 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."},
		{"garbage token", bapListURL(srv, "2020-10-01"), "abc.def.ghi", 401, "AuthenticationFailed", "Authentication failed. The access token is not valid."},
		{"Dataverse audience", bapListURL(srv, "2020-10-01"), dvToken(t, srv), 401, "InvalidAuthenticationTokenAudience", ""},
		{"expired", bapListURL(srv, "2020-10-01"), srv.MintToken(auditorID, bapAudience, time.Now().Add(-time.Minute)), 401, "ExpiredAuthenticationToken", ""},
		{"not an admin management application", bapListURL(srv, "2020-10-01"), secretToken(t, srv, unregisteredID, "other-secret", srv.BAPScope()), 403, "Forbidden", ""},
		{"unknown path", srv.BAPURL() + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/nothing?api-version=2020-10-01", good, 404, "NotFound", ""},
		{"unknown environment", srv.BAPURL() + bapEnvironmentsPath + "/00000000-0000-0000-0000-000000000000?api-version=2020-10-01", good, 404, "EnvironmentNotFound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, tt.url, tt.token, "")
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			if tt.message != "" {
				assert.Equal(t, tt.message, resp.errorMessage(t))
			}
		})
	}
}

func TestBAPForbiddenMessageExplainsTheFix(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := secretToken(t, srv, unregisteredID, "other-secret", srv.BAPScope())
	resp := call(t, srv, http.MethodGet, bapListURL(srv, "2020-10-01"), tok, "")
	require.Equal(t, http.StatusForbidden, resp.status)
	msg := resp.errorMessage(t)
	assert.Contains(t, msg, "The service principal with id '"+srv.objectID(unregisteredID)+"' for application "+unregisteredID+
		" does not have permission to access the path '"+bapEnvironmentsPath+"' in tenant "+testTenantID+".")
	assert.Contains(t, msg, "adminApplications/"+unregisteredID)
}

func TestBAPSingleEnvironmentAndRemoval(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := bapToken(t, srv)
	id := srv.EnvironmentID(sandbox)
	resp := call(t, srv, http.MethodGet, srv.BAPURL()+bapEnvironmentsPath+"/"+id+"?api-version=2021-04-01", tok, "")
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, id, resp.object(t)["name"])

	require.NoError(t, srv.RemoveEnvironment(sandbox))
	resp = call(t, srv, http.MethodGet, bapListURL(srv, "2021-04-01"), tok, "")
	assert.Len(t, resp.values(t), 2)
	resp = call(t, srv, http.MethodGet, dvURL(srv, sandbox, "WhoAmI"), orgToken(t, srv, sandbox), "")
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, ErrCodeOrganizationNotFound, resp.errorCode(t))
	assert.Error(t, srv.RemoveEnvironment("nowhere"))
}
