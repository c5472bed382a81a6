package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDataverseAuthentication(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	other := startServer(t, Options{})
	tests := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"BAP audience", bapToken(t, srv)},
		{"expired", srv.MintToken(auditorID, srv.InstanceURL(prod), time.Now().Add(-time.Second))},
		{"another emulator's token", dvToken(t, other)},
		{"another organization's token", orgToken(t, srv, sandbox)},
		{"the main listener's audience", srv.MintToken(auditorID, srv.URL(), time.Now().Add(time.Hour))},
		{"garbage", "x.y.z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tt.token, "")
			assert.Equal(t, http.StatusUnauthorized, resp.status)
			assert.Empty(t, resp.body)
			assert.Equal(t, "Bearer authorization_uri="+srv.URL()+"/"+testTenantID+"/oauth2/authorize, resource_id="+strings.TrimSuffix(srv.InstanceURL(prod), "/"),
				resp.header.Get("WWW-Authenticate"), "the organization names its own origin as the resource")
		})
	}
	t.Run("scope built from the whole instance URL", func(t *testing.T) {
		t.Parallel()
		tok := secretToken(t, srv, auditorID, auditorSecret, srv.InstanceURL(sandbox)+".default")
		assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, dvURL(srv, sandbox, "WhoAmI"), tok, "").status)
		assert.Equal(t, http.StatusUnauthorized, call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), tok, "").status)
	})
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "WhoAmI"), dvToken(t, srv), "")
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json; odata.metadata=minimal", resp.header.Get("Content-Type"))
	assert.Equal(t, "4.0", resp.header.Get("OData-Version"))
	var root map[string]any
	for _, bu := range srv.Rows(prod, "businessunits") {
		if bu["_parentbusinessunitid_value"] == nil {
			root = bu
		}
	}
	assert.Equal(t, map[string]any{
		"@odata.context": srv.InstanceURL(prod) + "api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
		"BusinessUnitId": root["businessunitid"],
		"UserId":         srv.UserID(prod, auditorID),
		"OrganizationId": root["organizationid"],
	}, resp.object(t))

	me := srv.Rows(prod, "systemusers")
	var auditor map[string]any
	for _, u := range me {
		if u["systemuserid"] == srv.UserID(prod, auditorID) {
			auditor = u
		}
	}
	require.NotNil(t, auditor)
	assert.Equal(t, "# Compliance Auditor", auditor["fullname"])
	assert.Equal(t, auditorID, auditor["applicationid"])
	assert.Equal(t, 4, auditor["accessmode"])
}

func TestFilter(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	var salesBU string
	for _, bu := range srv.Rows(prod, "businessunits") {
		if bu["name"] == "Sales" {
			salesBU = bu["businessunitid"].(string)
		}
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"applicationid eq " + work365US, []string{"# Work 365"}},
		{"applicationid eq " + strings.ToUpper(work365US), []string{"# Work 365"}},
		{"isdisabled eq true", []string{"INTEGRATION", "SYSTEM", "Work 365 Service Account"}},
		{"fullname eq 'jane doe'", []string{"Jane Doe"}},
		{"fullname eq 'Bob O''Brien'", []string{"Bob O'Brien"}},
		{"fullname ne 'Jane Doe' and accessmode eq 0", []string{"Bob O'Brien", "INTEGRATION", "SYSTEM", "Work 365 Service Account"}},
		{"startswith(fullname,'#')", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365"}},
		{"endswith(fullname,'DOE')", []string{"Jane Doe"}},
		{"contains(fullname,'service')", []string{"Work 365 Service Account"}},
		{"not contains(fullname,'a')", []string{"# Work 365", "Bob O'Brien", "SYSTEM"}},
		{"applicationid ne null and isdisabled eq false", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365"}},
		{"applicationid eq null", []string{"Bob O'Brien", "INTEGRATION", "Jane Doe", "SYSTEM", "Work 365 Service Account"}},
		{"not (accessmode eq 4)", []string{"Bob O'Brien", "INTEGRATION", "Jane Doe", "SYSTEM", "Work 365 Service Account"}},
		{"accessmode eq 4 or isdisabled eq true", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365", "INTEGRATION", "SYSTEM", "Work 365 Service Account"}},
		{"(fullname eq 'Jane Doe' or fullname eq 'Bob O''Brien') and deletedstate eq 0", []string{"Bob O'Brien", "Jane Doe"}},
		{"_businessunitid_value eq " + salesBU, []string{"Bob O'Brien"}},
		{"accessmode gt 0", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365"}},
		{"accessmode le 0", []string{"Bob O'Brien", "INTEGRATION", "Jane Doe", "SYSTEM", "Work 365 Service Account"}},
		{"createdon lt 2100-01-01T00:00:00Z", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365", "Bob O'Brien", "INTEGRATION", "Jane Doe", "SYSTEM", "Work 365 Service Account"}},
		{"createdon ge 2100-01-01T00:00:00Z", []string{}},
		{"createdon gt 1999-12-31", []string{"# Compliance Auditor", "# Unregistered Auditor", "# Work 365", "Bob O'Brien", "INTEGRATION", "Jane Doe", "SYSTEM", "Work 365 Service Account"}},
		{"Microsoft.Dynamics.CRM.In(PropertyName='domainname',PropertyValues=['JDOE@contoso.onmicrosoft.com','bob@contoso.onmicrosoft.com'])", []string{"Bob O'Brien", "Jane Doe"}},
		{"Microsoft.Dynamics.CRM.In(PropertyName='applicationid',PropertyValues=['" + work365US + "','" + work365EU + "'])", []string{"# Work 365"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname&$filter="+url.QueryEscape(tt.filter)), tok, "")
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			got := names(resp.values(t), "fullname")
			sort.Strings(got)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	tests := []struct {
		name    string
		query   string
		message string
	}{
		{"quoted GUID", "$filter=" + url.QueryEscape("applicationid eq '"+work365US+"'"),
			"A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."},
		{"unknown filter column", "$filter=" + url.QueryEscape("nosuch eq 1"), "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"missing operand", "$filter=" + url.QueryEscape("fullname eq"), "Syntax error at position 11 in 'fullname eq'."},
		{"unknown function", "$filter=" + url.QueryEscape("tolower(fullname) eq 'x'"), "An unknown function with name 'tolower' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."},
		{"function on a number", "$filter=" + url.QueryEscape("contains(accessmode,'4')"), "No function signature for the function with name 'contains' matches the specified arguments. The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true)."},
		{"unterminated string", "$filter=" + url.QueryEscape("fullname eq 'x"), "There is an unterminated string literal at position 12 in 'fullname eq 'x'."},
		{"number against string", "$filter=" + url.QueryEscape("fullname eq 4"), "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{"skip", "$skip=2", "The query parameter $skip is not supported"},
		{"unknown select column", "$select=fullname,nosuch", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"unknown orderby column", "$orderby=nosuch desc", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"unknown expand", "$expand=nosuch", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"bad top", "$top=-1", "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value."},
		{"tampered skiptoken", "$skiptoken=abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?"+tt.query), tok, "")
			require.Equal(t, http.StatusBadRequest, resp.status, "%s", resp.body)
			assert.Equal(t, "0x80060888", resp.errorCode(t))
			if tt.message != "" {
				assert.Equal(t, tt.message, resp.errorMessage(t))
			}
		})
	}
}

func TestSelectOrderAndTop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	base := srv.InstanceURL(prod) + "api/data/v9.2/"

	resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname,isdisabled&$orderby=fullname desc&$top=2"), tok, "")
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, base+"$metadata#systemusers(fullname,isdisabled)", resp.object(t)["@odata.context"])
	rows := resp.values(t)
	assert.Equal(t, []string{"Work 365 Service Account", "SYSTEM"}, names(rows, "fullname"))
	keys := make([]string, 0)
	for k := range rows[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"@odata.etag", "fullname", "isdisabled", "ownerid", "systemuserid"}, keys)
	assert.Regexp(t, `^W/"\d+"$`, rows[0]["@odata.etag"])
	assert.NotContains(t, resp.object(t), "@odata.nextLink")

	resp = call(t, srv, http.MethodGet, dvURL(srv, prod, "roles?$select=name&$orderby=name asc,_businessunitid_value desc"), tok, "")
	require.Equal(t, http.StatusOK, resp.status)
	got := names(resp.values(t), "name")
	assert.Equal(t, []string{"Basic User", "Basic User", "System Administrator", "System Administrator", "Work 365 Portal Service", "Work 365 Portal Service", "Work 365 Service", "Work 365 Service"}, got)

	t.Run("without $orderby rows come in primary key order", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "roles?$select=name"), tok, "")
		ids := names(resp.values(t), "roleid")
		assert.True(t, sort.StringsAreSorted(ids), "%v", ids)
	})
	t.Run("all columns without $select", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "roles"), tok, "")
		assert.Equal(t, base+"$metadata#roles", resp.object(t)["@odata.context"])
		role := resp.values(t)[0]
		for _, col := range []string{"roleid", "name", "_businessunitid_value", "_parentrootroleid_value", "ismanaged", "versionnumber", "iscustomizable"} {
			assert.Contains(t, role, col)
		}
	})
}

func TestRolesPerBusinessUnit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	roles := srv.Rows(prod, "roles")
	require.Len(t, roles, 8, "4 roles × 2 business units")
	byName := map[string][]map[string]any{}
	for _, r := range roles {
		byName[r["name"].(string)] = append(byName[r["name"].(string)], r)
	}
	for name, copies := range byName {
		require.Len(t, copies, 2, name)
		assert.NotEqual(t, copies[0]["roleid"], copies[1]["roleid"])
		assert.NotEqual(t, copies[0]["_businessunitid_value"], copies[1]["_businessunitid_value"])
		assert.Equal(t, copies[0]["_parentrootroleid_value"], copies[1]["_parentrootroleid_value"])
		root := copies[0]["_parentrootroleid_value"]
		assert.True(t, root == copies[0]["roleid"] || root == copies[1]["roleid"], "the root business unit's copy is the parent root")
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	base := srv.InstanceURL(prod) + "api/data/v9.2/"
	jdoe := srv.UserID(prod, "jdoe")

	t.Run("collection from systemusers", func(t *testing.T) {
		q := "systemusers?$select=fullname&$filter=" + url.QueryEscape("fullname eq 'Jane Doe' or fullname eq '# Work 365'") +
			"&$orderby=fullname&$expand=systemuserroles_association($select=name, roleid,_businessunitid_value;$orderby=name)"
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, q), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assert.Equal(t, base+"$metadata#systemusers(fullname,systemuserroles_association(name,roleid,_businessunitid_value))", resp.object(t)["@odata.context"])
		rows := resp.values(t)
		require.Len(t, rows, 2)
		roles := func(r map[string]any) []string {
			var out []string
			for _, x := range r["systemuserroles_association"].([]any) {
				out = append(out, x.(map[string]any)["name"].(string))
			}
			return out
		}
		assert.Equal(t, []string{"Work 365 Service"}, roles(rows[0]))
		assert.Equal(t, []string{"Basic User", "Work 365 Service"}, roles(rows[1]))
		link := rows[1]["systemuserroles_association@odata.nextLink"].(string)
		assert.Equal(t, base+"systemusers("+jdoe+")/systemuserroles_association?$select=name,roleid,_businessunitid_value&$orderby=name", link)

		// The link of a complete inline array is the plain related collection: it gives every row again.
		next := call(t, srv, http.MethodGet, link, tok, "")
		require.Equal(t, http.StatusOK, next.status, "%s", next.body)
		assert.Equal(t, []string{"Basic User", "Work 365 Service"}, names(next.values(t), "name"))
	})
	t.Run("empty inline array still has its link", func(t *testing.T) {
		q := "systemusers?$select=fullname&$filter=" + url.QueryEscape("fullname eq 'Jane Doe'") +
			"&$expand=systemuserroles_association($select=name;$filter=" + url.QueryEscape("name eq 'System Administrator'") + ")"
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, q), tok, "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, []any{}, rows[0]["systemuserroles_association"])
		assert.Equal(t, base+"systemusers("+jdoe+")/systemuserroles_association?$select=name&$filter=name%20eq%20%27System%20Administrator%27",
			rows[0]["systemuserroles_association@odata.nextLink"])
	})
	t.Run("collection from roles", func(t *testing.T) {
		root := call(t, srv, http.MethodGet, dvURL(srv, prod, "businessunits?$select=name&$filter="+url.QueryEscape("_parentbusinessunitid_value eq null")), tok, "").values(t)
		require.Len(t, root, 1)
		assert.Equal(t, "Contoso", root[0]["name"])
		q := "roles?$select=name&$filter=" + url.QueryEscape("name eq 'Work 365 Service' and _businessunitid_value eq "+root[0]["businessunitid"].(string)) +
			"&$expand=systemuserroles_association($select=fullname;$orderby=fullname)"
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, q), tok, "").values(t)
		require.Len(t, rows, 1)
		var holders []string
		for _, u := range rows[0]["systemuserroles_association"].([]any) {
			holders = append(holders, u.(map[string]any)["fullname"].(string))
		}
		assert.Equal(t, []string{"# Work 365", "Jane Doe", "Work 365 Service Account"}, holders)
		assert.Contains(t, rows[0], "systemuserroles_association@odata.nextLink")
	})
	t.Run("single-valued business unit", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+srv.UserID(prod, "bob")+")?$select=fullname&$expand=businessunitid($select=name)"), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		obj := resp.object(t)
		assert.Equal(t, base+"$metadata#systemusers(fullname,businessunitid(name))/$entity", obj["@odata.context"])
		assert.Equal(t, "Sales", obj["businessunitid"].(map[string]any)["name"])
		assert.NotContains(t, obj, "businessunitid@odata.nextLink")
	})
	t.Run("navigation property", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+jdoe+")/systemuserroles_association?$select=name,roleid"), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assert.Equal(t, base+"$metadata#roles(name,roleid)", resp.object(t)["@odata.context"])
		assert.ElementsMatch(t, []string{"Basic User", "Work 365 Service"}, names(resp.values(t), "name"))
	})
}

func TestPaging(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	all := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname&$orderby=fullname desc"), tok, "")
	want := names(all.values(t), "fullname")
	require.Len(t, want, 8)

	for _, prefer := range []string{"odata.maxpagesize=2", `odata.include-annotations="*",odata.maxpagesize=2`} {
		t.Run(prefer, func(t *testing.T) {
			next := dvURL(srv, prod, "systemusers?$select=fullname&$orderby=fullname desc")
			var got []string
			pages := 0
			for next != "" {
				resp := call(t, srv, http.MethodGet, next, tok, "", "Prefer", prefer)
				require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
				assert.Equal(t, "odata.maxpagesize=2", resp.header.Get("Preference-Applied"))
				rows := resp.values(t)
				assert.LessOrEqual(t, len(rows), 2)
				got = append(got, names(rows, "fullname")...)
				next, _ = resp.object(t)["@odata.nextLink"].(string)
				if next != "" {
					assert.True(t, strings.HasPrefix(next, srv.InstanceURL(prod)+"api/data/v9.2/systemusers?$select=fullname&$orderby=fullname%20desc&$skiptoken=%3Ccookie%20pagenumber=%22"), next)
				}
				pages++
				require.Less(t, pages, 10)
				// A write to another table between pages must not disturb the paging.
				call(t, srv, http.MethodPatch, dvURL(srv, prod, "w365_configurations("+srv.Rows(prod, "w365_configurations")[0]["w365_configurationid"].(string)+")"), tok, `{"w365_name":"x"}`)
			}
			assert.Equal(t, 4, pages)
			assert.Equal(t, want, got)
		})
	}
	t.Run("MaxPageSize caps the preference", func(t *testing.T) {
		capped := startServer(t, Options{MaxPageSize: 4})
		resp := call(t, capped, http.MethodGet, dvURL(capped, prod, "systemusers?$select=fullname"), dvToken(t, capped), "", "Prefer", "odata.maxpagesize=5000")
		assert.Len(t, resp.values(t), 4)
		assert.Contains(t, resp.object(t), "@odata.nextLink")
	})
	t.Run("top spans pages", func(t *testing.T) {
		next := dvURL(srv, prod, "systemusers?$select=fullname&$top=5")
		total := 0
		for next != "" {
			resp := call(t, srv, http.MethodGet, next, tok, "", "Prefer", "odata.maxpagesize=2")
			total += len(resp.values(t))
			next, _ = resp.object(t)["@odata.nextLink"].(string)
		}
		assert.Equal(t, 5, total)
	})
	t.Run("the skiptoken has the real cookie shape", func(t *testing.T) {
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$select=fullname"), tok, "", "Prefer", "odata.maxpagesize=1")
		link, err := url.Parse(resp.object(t)["@odata.nextLink"].(string))
		require.NoError(t, err)
		token := link.Query().Get("$skiptoken")
		assert.Regexp(t, `^<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%20countOfRecords%3d%221%22%3e%3csystemuserid%20last%3d%22%7b[0-9A-F-]{36}%7d%22%20first%3d%22%7b[0-9A-F-]{36}%7d%22%20%2f%3e%3c%2fcookie%3e" istracking="False" />$`, token)
	})
}

func TestReadErrorsAndSettings(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	tests := []struct {
		name    string
		env     string
		path    string
		status  int
		code    string
		message string
	}{
		{"unknown row", prod, "systemusers(00000000-0000-0000-0000-000000000001)", 404, "0x80040217", "systemuser With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist"},
		{"unknown entity set", prod, "nosuch", 404, "0x80060888", "Resource not found for the segment 'nosuch'."},
		{"unknown navigation", prod, "systemusers(" + srv.UserID(prod, "jdoe") + ")/nosuch", 404, "0x80060888", "Resource not found for the segment 'nosuch'."},
		{"alternate key", prod, "systemusers(domainname='x')", 400, "0x80060888", ""},
		{"other API version", prod, "../v9.1/systemusers", 404, "0x80060888", ""},
		{"settings table without Work 365", "Contoso Production", "w365_settings", 404, "0x80060888", "Resource not found for the segment 'w365_settings'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, dvURL(srv, tt.env, tt.path), tok, "")
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			if tt.message != "" {
				assert.Equal(t, tt.message, resp.errorMessage(t))
			}
		})
	}
	t.Run("settings", func(t *testing.T) {
		t.Parallel()
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "w365_configurations?$select=w365_name,_w365_serviceuserid_value"), tok, "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, srv.UserID(prod, "svc"), rows[0]["_w365_serviceuserid_value"])
		sandboxRows := call(t, srv, http.MethodGet, dvURL(srv, sandbox, "w365_configurations"), orgToken(t, srv, sandbox), "").values(t)
		require.Len(t, sandboxRows, 1)
		assert.Contains(t, sandboxRows[0], "_w365_serviceuserid_value")
		assert.Nil(t, sandboxRows[0]["_w365_serviceuserid_value"])
	})
	t.Run("jobs, flows, connection references, templates", func(t *testing.T) {
		t.Parallel()
		svc := srv.UserID(prod, "svc")
		jobs := call(t, srv, http.MethodGet, dvURL(srv, prod, "asyncoperations?$select=name,statuscode,_ownerid_value&$filter=statuscode eq 31"), tok, "").values(t)
		require.Len(t, jobs, 1)
		assert.Equal(t, "Work 365 - Sync Subscriptions", jobs[0]["name"])
		assert.Equal(t, svc, jobs[0]["_ownerid_value"])
		for _, set := range []string{"workflows", "connectionreferences", "templates"} {
			rows := call(t, srv, http.MethodGet, dvURL(srv, prod, set+"?$filter=_ownerid_value eq "+svc), tok, "").values(t)
			assert.Len(t, rows, 1, set)
		}
		solutions := call(t, srv, http.MethodGet, dvURL(srv, prod, "solutions?$select=uniquename,version&$filter=uniquename eq 'work365'"), tok, "").values(t)
		require.Len(t, solutions, 1)
		assert.Equal(t, "3.6.2.0", solutions[0]["version"])
	})
}
