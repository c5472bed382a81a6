package emulator

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rootBU(t *testing.T, srv *Server, env string) string {
	t.Helper()
	for _, bu := range srv.Rows(env, "businessunits") {
		if bu["_parentbusinessunitid_value"] == nil {
			return bu["businessunitid"].(string)
		}
	}
	t.Fatal("no root business unit")
	return ""
}

func roleID(t *testing.T, srv *Server, env, name, buID string) string {
	t.Helper()
	for _, r := range srv.Rows(env, "roles") {
		if r["name"] == name && r["_businessunitid_value"] == buID {
			return r["roleid"].(string)
		}
	}
	t.Fatalf("no role %q in %s", name, buID)
	return ""
}

func userRow(t *testing.T, srv *Server, env, id string) map[string]any {
	t.Helper()
	for _, u := range srv.Rows(env, "systemusers") {
		if u["systemuserid"] == id {
			return u
		}
	}
	return nil
}

func TestCreateApplicationUser(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	root := rootBU(t, srv, prod)
	body := `{"applicationid":"` + work365EU + `","accessmode":4,"isdisabled":false,"businessunitid@odata.bind":"/businessunits(` + root + `)"}`

	resp := call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, body)
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	entityID := resp.header.Get("OData-EntityId")
	require.Regexp(t, `^`+srv.InstanceURL(prod)+`api/data/v9\.2/systemusers\([0-9a-f-]{36}\)$`, entityID)
	id := entityID[len(entityID)-37 : len(entityID)-1]

	rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname,applicationid,accessmode,islicensed,isdisabled,_businessunitid_value,azureactivedirectoryobjectid,deletedstate&$filter=applicationid eq "+work365EU), tok, "").values(t)
	require.Len(t, rows, 1)
	u := rows[0]
	assert.Equal(t, id, u["systemuserid"])
	assert.Equal(t, "# Work 365 EU", u["fullname"])
	assert.Equal(t, float64(4), u["accessmode"])
	assert.Equal(t, false, u["islicensed"])
	assert.Equal(t, false, u["isdisabled"])
	assert.Equal(t, float64(0), u["deletedstate"])
	assert.Equal(t, root, u["_businessunitid_value"])
	assert.Equal(t, srv.objectID(work365EU), u["azureactivedirectoryobjectid"])

	writes := srv.Writes()
	require.Len(t, writes, 1)
	assert.Equal(t, body, writes[0].Body)
	assert.Equal(t, http.StatusNoContent, writes[0].Status)

	t.Run("return=representation", func(t *testing.T) {
		other := startServer(t, Options{})
		resp := call(t, other, http.MethodPost, dvURL(other, sandbox, "systemusers?$select=fullname,applicationid"), orgToken(t, other, sandbox),
			`{"applicationid":"`+work365US+`","accessmode":4,"isdisabled":false}`, "Prefer", "return=representation")
		require.Equal(t, http.StatusCreated, resp.status, "%s", resp.body)
		obj := resp.object(t)
		assert.Equal(t, "# Work 365", obj["fullname"])
		assert.Equal(t, work365US, obj["applicationid"])
		assert.Equal(t, other.InstanceURL(sandbox)+"api/data/v9.2/$metadata#systemusers(fullname,applicationid)/$entity", obj["@odata.context"])
		assert.Equal(t, "return=representation", resp.header.Get("Preference-Applied"))
		assert.Equal(t, rootBU(t, other, sandbox), userRow(t, other, sandbox, obj["systemuserid"].(string))["_businessunitid_value"], "the root business unit by default")
	})
}

func TestCreateApplicationUserErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	create := func(appID string) apiResponse {
		return call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, `{"applicationid":"`+appID+`","accessmode":4,"isdisabled":false}`)
	}

	resp := create("12345678-1234-4234-8234-123456789012")
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, ErrCodeAppNotInTenant, resp.errorCode(t))
	assert.Contains(t, resp.errorMessage(t), "The application with ID '12345678-1234-4234-8234-123456789012' was not found in the directory of tenant '"+testTenantID+"'.")

	resp = create(work365US)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "0x80040237", resp.errorCode(t))

	resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, `{"applicationid":"`+work365EU+`","nosuch":1}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "The property 'nosuch' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'. Make sure to only use property names that are defined by the type or mark the type as open type.", resp.errorMessage(t))

	resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, `{"applicationid":"`+work365EU+`","businessunitid@odata.bind":"/businessunits(00000000-0000-0000-0000-000000000009)"}`)
	require.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, "businessunit With Id = 00000000-0000-0000-0000-000000000009 Does Not Exist", resp.errorMessage(t))

	// A soft-deleted application user blocks creation until it is purged.
	app := srv.UserID(prod, "w365app")
	userURL := dvURL(srv, prod, "systemusers("+app+")")
	resp = call(t, srv, http.MethodDelete, userURL, tok, "")
	require.Equal(t, http.StatusBadRequest, resp.status, "an enabled user cannot be deleted")
	assert.Equal(t, ErrCodeUserNotDisabled, resp.errorCode(t))
	require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, userURL, tok, `{"isdisabled":true}`).status)
	require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, userURL, tok, "").status)
	assert.Equal(t, 1, userRow(t, srv, prod, app)["deletedstate"])

	resp = create(work365US)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, ErrCodeDeletedUserExists, resp.errorCode(t))
	assert.Contains(t, resp.errorMessage(t), "Purge it first")

	require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, userURL, tok, "").status)
	assert.Nil(t, userRow(t, srv, prod, app), "the second delete purges")
	assert.Equal(t, http.StatusNotFound, call(t, srv, http.MethodDelete, userURL, tok, "").status)
	assert.Equal(t, http.StatusNoContent, create(work365US).status)
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	svc := srv.UserID(prod, "svc")
	before := userRow(t, srv, prod, svc)

	resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false,"fullname":"Old Service Account"}`)
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	after := userRow(t, srv, prod, svc)
	assert.Equal(t, false, after["isdisabled"])
	assert.Equal(t, "Old Service Account", after["fullname"])
	assert.Greater(t, after["versionnumber"].(int), before["versionnumber"].(int))
	assert.NotEqual(t, before["@odata.etag"], after["@odata.etag"])

	tests := []struct {
		name    string
		id      string
		body    string
		headers []string
		status  int
		code    string
		message string
	}{
		{"unknown user", "00000000-0000-0000-0000-00000000000a", `{"isdisabled":true}`, []string{"If-Match", "*"}, 404, "0x80040217", "systemuser With Id = 00000000-0000-0000-0000-00000000000a Does Not Exist"},
		{"unknown property", svc, `{"colour":"red"}`, nil, 400, "0x80048d19", "The property 'colour' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'. Make sure to only use property names that are defined by the type or mark the type as open type."},
		{"wrong type", svc, `{"isdisabled":"no"}`, nil, 400, "0x80048d19", ""},
		{"not JSON", svc, `{`, nil, 400, "0x80048d19", ""},
		{"stale etag", svc, `{"isdisabled":true}`, []string{"If-Match", `W/"1"`}, 412, "0x80060882", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+tt.id+")"), tok, tt.body, tt.headers...)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			if tt.message != "" {
				assert.Equal(t, tt.message, resp.errorMessage(t))
			}
		})
	}

	t.Run("moving to another business unit drops the roles", func(t *testing.T) {
		jdoe := srv.UserID(prod, "jdoe")
		var sales string
		for _, bu := range srv.Rows(prod, "businessunits") {
			if bu["name"] == "Sales" {
				sales = bu["businessunitid"].(string)
			}
		}
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+jdoe+")"), tok, `{"businessunitid@odata.bind":"/businessunits(`+sales+`)"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.Equal(t, sales, userRow(t, srv, prod, jdoe)["_businessunitid_value"])
		roles := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+jdoe+")/systemuserroles_association"), tok, "").values(t)
		assert.Empty(t, roles)
	})
}

func TestRoleAssociation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	app := srv.UserID(prod, "w365app")
	root := rootBU(t, srv, prod)
	portal := roleID(t, srv, prod, "Work 365 Portal Service", root)
	refURL := dvURL(srv, prod, "systemusers("+app+")/systemuserroles_association/$ref")
	roleNames := func() []string {
		return names(call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+app+")/systemuserroles_association?$select=name"), tok, "").values(t), "name")
	}

	resp := call(t, srv, http.MethodPost, refURL, tok, `{"@odata.id":"`+srv.InstanceURL(prod)+`api/data/v9.2/roles(`+portal+`)"}`)
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	assert.ElementsMatch(t, []string{"Work 365 Service", "Work 365 Portal Service"}, roleNames())

	resp = call(t, srv, http.MethodPost, refURL, tok, `{"@odata.id":"roles(`+portal+`)"}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "0x80040237", resp.errorCode(t))

	var sales string
	for _, bu := range srv.Rows(prod, "businessunits") {
		if bu["name"] == "Sales" {
			sales = bu["businessunitid"].(string)
		}
	}
	salesAdmin := roleID(t, srv, prod, "System Administrator", sales)
	resp = call(t, srv, http.MethodPost, refURL, tok, `{"@odata.id":"/roles(`+salesAdmin+`)"}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, ErrCodeRoleNotInBusinessUnit, resp.errorCode(t))
	assert.Contains(t, resp.errorMessage(t), "not to the user's business unit "+root)

	resp = call(t, srv, http.MethodPost, refURL, tok, `{"@odata.id":"/roles(00000000-0000-0000-0000-0000000000ff)"}`)
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, "role With Id = 00000000-0000-0000-0000-0000000000ff Does Not Exist", resp.errorMessage(t))

	del := dvURL(srv, prod, "systemusers("+app+")/systemuserroles_association("+portal+")/$ref")
	assert.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, del, tok, "").status)
	assert.Equal(t, []string{"Work 365 Service"}, roleNames())
	assert.Equal(t, http.StatusNoContent, call(t, srv, http.MethodDelete, del, tok, "").status, "204 also when not associated")

	t.Run("from the role side and with $id", func(t *testing.T) {
		resp := call(t, srv, http.MethodPost, dvURL(srv, prod, "roles("+portal+")/systemuserroles_association/$ref"), tok, `{"@odata.id":"/systemusers(`+app+`)"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.ElementsMatch(t, []string{"Work 365 Service", "Work 365 Portal Service"}, roleNames())
		resp = call(t, srv, http.MethodDelete, dvURL(srv, prod, "systemusers("+app+")/systemuserroles_association/$ref?$id="+url.QueryEscape(srv.InstanceURL(prod)+"api/data/v9.2/roles("+portal+")")), tok, "")
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.Equal(t, []string{"Work 365 Service"}, roleNames())
	})
}

func TestServiceUserSettingAndClearCache(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	settingsID := srv.Rows(prod, "w365_configurations")[0]["w365_configurationid"].(string)
	settingsURL := dvURL(srv, prod, "w365_configurations("+settingsID+")")
	app := srv.UserID(prod, "w365app")
	lookup := func() any { return srv.Rows(prod, "w365_configurations")[0]["_w365_serviceuserid_value"] }

	resp := call(t, srv, http.MethodPatch, settingsURL, tok, `{"w365_ServiceUserId@odata.bind":"/systemusers(`+app+`)"}`)
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	assert.Equal(t, app, lookup())

	resp = call(t, srv, http.MethodPatch, settingsURL, tok, `{"w365_ServiceUserId@odata.bind":"/systemusers(00000000-0000-0000-0000-0000000000aa)"}`)
	require.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, "0x80040217", resp.errorCode(t))
	assert.Equal(t, app, lookup(), "a refused write changes nothing")

	resp = call(t, srv, http.MethodDelete, dvURL(srv, prod, "w365_configurations("+settingsID+")/w365_ServiceUserId/$ref"), tok, "")
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	assert.Nil(t, lookup())

	resp = call(t, srv, http.MethodPatch, settingsURL, tok, `{"w365_ServiceUserId@odata.bind":null}`)
	require.Equal(t, http.StatusNoContent, resp.status)

	resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "w365_ClearCache"), tok, `{}`)
	assert.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)

	resp = call(t, srv, http.MethodPost, dvURL(srv, sandbox, "w365_ClearCache"), orgToken(t, srv, sandbox), `{}`)
	require.Equal(t, http.StatusNotFound, resp.status)
	assert.JSONEq(t, `{"error":{"code":"0x80060888","message":"Resource not found for the segment 'w365_ClearCache'."}}`, string(resp.body))

	resp = call(t, srv, http.MethodPut, dvURL(srv, prod, "roles("+roleID(t, srv, prod, "Basic User", rootBU(t, srv, prod))+")"), tok, `{}`)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
	resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "nosuch"), tok, `{}`)
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, "Resource not found for the segment 'nosuch'.", resp.errorMessage(t))
}

func TestAccessLevels(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	svc := srv.UserID(prod, "svc")

	require.NoError(t, srv.SetAccess(prod, "read"))
	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers"), tok, "").status)
	resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`)
	require.Equal(t, http.StatusForbidden, resp.status)
	assert.Equal(t, "0x80040220", resp.errorCode(t))
	assert.Contains(t, resp.errorMessage(t), "Principal user (Id="+srv.UserID(prod, auditorID)+", type=8, roleCount=1")
	assert.Contains(t, resp.errorMessage(t), "is missing prvWriteUser privilege")
	assert.Equal(t, true, userRow(t, srv, prod, svc)["isdisabled"])
	resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, `{"applicationid":"`+work365EU+`"}`)
	assert.Contains(t, resp.errorMessage(t), "prvCreateUser")

	require.NoError(t, srv.SetAccess(prod, "none"))
	resp = call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
	require.Equal(t, http.StatusForbidden, resp.status)
	assert.JSONEq(t, `{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}`, string(resp.body))
	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, dvURL(srv, sandbox, "WhoAmI"), orgToken(t, srv, sandbox), "").status)

	assert.Error(t, srv.SetAccess(prod, "admin"))
	assert.Error(t, srv.SetAccess("nowhere", "full"))

	t.Run("a disabled caller is refused", func(t *testing.T) {
		require.NoError(t, srv.SetAccess(prod, "full"))
		me := srv.UserID(prod, auditorID)
		require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+me+")"), tok, `{"isdisabled":true}`).status)
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "")
		assert.Equal(t, http.StatusForbidden, resp.status)
		assert.Equal(t, ErrCodeCallerDisabled, resp.errorCode(t))
	})
}

func TestServiceUserBindUsesTheNavigationProperty(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	settingsID := srv.Rows(prod, "w365_configurations")[0]["w365_configurationid"].(string)
	settingsURL := dvURL(srv, prod, "w365_configurations("+settingsID+")")
	svc := srv.UserID(prod, "svc")
	app := srv.UserID(prod, "w365app")

	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		status  int
		code    string
		message string
	}{
		{"bind through the lookup's logical name", http.MethodPatch, "", `{"w365_serviceuserid@odata.bind":"/systemusers(` + app + `)"}`, 400, "0x0",
			"An error occurred while validating input parameters: Microsoft.OData.ODataException: An undeclared property 'w365_serviceuserid' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."},
		{"bind in another case", http.MethodPatch, "", `{"W365_SERVICEUSERID@odata.bind":"/systemusers(` + app + `)"}`, 400, "0x0", ""},
		{"$ref through the logical name", http.MethodDelete, "/w365_serviceuserid/$ref", "", 404, "0x80060888", "Resource not found for the segment 'w365_serviceuserid'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := call(t, srv, tt.method, settingsURL+tt.path, tok, tt.body)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			if tt.message != "" {
				assert.Equal(t, tt.message, resp.errorMessage(t))
			}
			assert.Equal(t, svc, srv.Rows(prod, "w365_configurations")[0]["_w365_serviceuserid_value"], "a refused write changes nothing")
		})
	}
	t.Run("expand through the navigation property only", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "w365_configurations?$select=_w365_serviceuserid_value&$expand=w365_ServiceUserId($select=fullname)"), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		rows := resp.values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, svc, rows[0]["_w365_serviceuserid_value"])
		assert.Equal(t, "Work 365 Service Account", rows[0]["w365_ServiceUserId"].(map[string]any)["fullname"])
		resp = call(t, srv, http.MethodGet, dvURL(srv, prod, "w365_configurations?$expand=w365_serviceuserid"), tok, "")
		require.Equal(t, http.StatusBadRequest, resp.status)
		assert.Equal(t, "Could not find a property named 'w365_serviceuserid' on type 'Microsoft.Dynamics.CRM.w365_configuration'.", resp.errorMessage(t))
		resp = call(t, srv, http.MethodGet, settingsURL+"/w365_ServiceUserId?$select=fullname", tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assert.Equal(t, "Work 365 Service Account", resp.object(t)["fullname"])
	})
}

func TestSettingsTableNamesAreFixtureChoices(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	w := f.Environments[0].Dataverse.Work365
	w.SettingsTable, w.SettingsEntitySet = "cr7_setting", "cr7_settingses"
	w.ServiceUserLookup, w.ServiceUserNavigation = "cr7_runas", "cr7_RunAs"
	srv := startFixture(t, f, Options{})
	tok := dvToken(t, srv)
	app := srv.UserID(prod, "w365app")

	rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "cr7_settingses?$select=cr7_name,_cr7_runas_value"), tok, "").values(t)
	require.Len(t, rows, 1)
	id := rows[0]["cr7_settingid"].(string)
	assert.Equal(t, srv.UserID(prod, "svc"), rows[0]["_cr7_runas_value"])
	assert.Equal(t, "Work 365 Settings", rows[0]["cr7_name"])

	resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "cr7_settingses("+id+")"), tok, `{"cr7_RunAs@odata.bind":"/systemusers(`+app+`)"}`)
	require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
	assert.Equal(t, app, srv.Rows(prod, "cr7_settingses")[0]["_cr7_runas_value"])
	assert.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, dvURL(srv, prod, "w365_configurations"), tok, "").status)
}

func TestPatchIsAnUpsert(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	app := srv.UserID(prod, "w365app")
	const missing = "0a0b0c0d-0000-4000-8000-000000000001"
	settingsRows := func() []map[string]any { return srv.Rows(prod, "w365_configurations") }
	userCount := len(srv.Rows(prod, "systemusers"))

	tests := []struct {
		name    string
		path    string
		body    string
		headers []string
		status  int
		code    string
		created bool
	}{
		{"settings: If-Match * prevents the create", "w365_configurations(" + missing + ")", `{"w365_ServiceUserId@odata.bind":"/systemusers(` + app + `)"}`, []string{"If-Match", "*"}, 404, "0x80040217", false},
		{"settings: an etag prevents it too", "w365_configurations(" + missing + ")", `{"w365_name":"x"}`, []string{"If-Match", `W/"5"`}, 404, "0x80040217", false},
		{"settings: a refused bind creates nothing", "w365_configurations(" + missing + ")", `{"w365_serviceuserid@odata.bind":"/systemusers(` + app + `)"}`, nil, 400, "0x0", false},
		{"users: If-Match * prevents the create", "systemusers(" + missing + ")", `{"applicationid":"` + work365EU + `"}`, []string{"If-Match", "*"}, 404, "0x80040217", false},
		{"users: creation rules apply", "systemusers(" + missing + ")", `{"isdisabled":false}`, nil, 400, "0x80048d19", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, tt.path), tok, tt.body, tt.headers...)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			assert.Len(t, settingsRows(), 1)
			assert.Len(t, srv.Rows(prod, "systemusers"), userCount)
		})
	}

	t.Run("settings: without If-Match a missing row is created", func(t *testing.T) {
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "w365_configurations("+missing+")"), tok, `{"w365_ServiceUserId@odata.bind":"/systemusers(`+app+`)","w365_name":"Recreated"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		assert.Equal(t, srv.InstanceURL(prod)+"api/data/v9.2/w365_configurations("+missing+")", resp.header.Get("OData-EntityId"))
		rows := settingsRows()
		require.Len(t, rows, 2)
		var created map[string]any
		for _, r := range rows {
			if r["w365_configurationid"] == missing {
				created = r
			}
		}
		require.NotNil(t, created)
		assert.Equal(t, app, created["_w365_serviceuserid_value"])
		assert.Equal(t, "Recreated", created["w365_name"])
		assert.Equal(t, 0, created["statecode"])
	})
	t.Run("users: without If-Match an application user is created with the URL's key", func(t *testing.T) {
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+missing+")"), tok, `{"applicationid":"`+work365EU+`","isdisabled":false}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		u := userRow(t, srv, prod, missing)
		require.NotNil(t, u)
		assert.Equal(t, work365EU, u["applicationid"])
		assert.Equal(t, "# Work 365 EU", u["fullname"])
	})
	t.Run("an existing row with If-Match * is updated; a stale etag is 412", func(t *testing.T) {
		svc := srv.UserID(prod, "svc")
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`, "If-Match", "*")
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		current := userRow(t, srv, prod, svc)["@odata.etag"].(string)
		resp = call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":true}`, "If-Match", current)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		resp = call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`, "If-Match", current)
		require.Equal(t, http.StatusPreconditionFailed, resp.status, "%s", resp.body)
		assert.Equal(t, "0x80060882", resp.errorCode(t))
	})
	t.Run("the write journal keeps If-Match", func(t *testing.T) {
		writes := srv.Writes()
		require.Len(t, writes, 10)
		assert.Equal(t, "*", writes[0].IfMatch)
		assert.Equal(t, `W/"5"`, writes[1].IfMatch)
		assert.Empty(t, writes[2].IfMatch)
	})
}

func TestRolesForDisabledUsers(t *testing.T) {
	t.Parallel()
	for _, allowed := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused by default", true: "allowed by the organization setting"}[allowed], func(t *testing.T) {
			t.Parallel()
			f, err := LoadFixture(minimalFixture)
			require.NoError(t, err)
			f.Environments[0].Dataverse.OrgSettings.AllowRoleAssignmentOnDisabledUsers = allowed
			srv := startFixture(t, f, Options{})
			tok := dvToken(t, srv)
			svc := srv.UserID(prod, "svc") // disabled
			root := rootBU(t, srv, prod)
			portal := roleID(t, srv, prod, "Work 365 Portal Service", root)
			basic := roleID(t, srv, prod, "Basic User", root)
			for _, side := range []struct{ path, body string }{
				{"systemusers(" + svc + ")/systemuserroles_association/$ref", `{"@odata.id":"/roles(` + portal + `)"}`},
				{"roles(" + basic + ")/systemuserroles_association/$ref", `{"@odata.id":"/systemusers(` + svc + `)"}`},
			} {
				resp := call(t, srv, http.MethodPost, dvURL(srv, prod, side.path), tok, side.body)
				if allowed {
					assert.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
					continue
				}
				require.Equal(t, http.StatusBadRequest, resp.status, "%s", resp.body)
				assert.Equal(t, ErrCodeRoleToDisabledUser, resp.errorCode(t))
				assert.Contains(t, resp.errorMessage(t), "allowRoleAssignmentOnDisabledUsers")
			}
			held := names(call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+svc+")/systemuserroles_association?$select=name"), tok, "").values(t), "name")
			if allowed {
				assert.ElementsMatch(t, []string{"Work 365 Service", "Work 365 Portal Service", "Basic User"}, held)
			} else {
				assert.Equal(t, []string{"Work 365 Service"}, held)
			}
			// Enabled first, the user can receive roles whatever the setting.
			require.Equal(t, http.StatusNoContent, call(t, srv, http.MethodPatch, dvURL(srv, prod, "systemusers("+svc+")"), tok, `{"isdisabled":false}`).status)
			resp := call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers("+svc+")/systemuserroles_association/$ref"), tok, `{"@odata.id":"/roles(`+portal+`)"}`)
			if allowed {
				assert.Equal(t, "0x80040237", resp.errorCode(t), "already held")
			} else {
				assert.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
			}
		})
	}
}
