package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormattedValues(t *testing.T) {
	t.Parallel()
	srv := startWithTeams(t, Options{})
	tok := dvToken(t, srv)
	const (
		formatted = "@OData.Community.Display.V1.FormattedValue"
		logical   = "@Microsoft.Dynamics.CRM.lookuplogicalname"
		nav       = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
	)
	bob := "systemusers?$select=fullname,_businessunitid_value&$filter=" + url.QueryEscape("fullname eq 'Bob O''Brien'")
	get := func(t *testing.T, path, prefer string) []map[string]any {
		t.Helper()
		var headers []string
		if prefer != "" {
			headers = []string{"Prefer", prefer}
		}
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, path), tok, "", headers...)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		return resp.values(t)
	}

	tests := []struct {
		name    string
		prefer  string
		logical bool
	}{
		{"formatted values", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`, false},
		{"every annotation", `odata.include-annotations="*"`, true},
		{"in a list with the page size", `odata.include-annotations="*",odata.maxpagesize=2`, true},
		{"a list of annotations", `odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows := get(t, bob, tt.prefer)
			require.Len(t, rows, 1)
			assert.Equal(t, "Sales", rows[0]["_businessunitid_value"+formatted])
			if tt.logical {
				assert.Equal(t, "businessunit", rows[0]["_businessunitid_value"+logical])
				assert.Equal(t, "businessunitid", rows[0]["_businessunitid_value"+nav])
			} else {
				assert.NotContains(t, rows[0], "_businessunitid_value"+logical)
				assert.NotContains(t, rows[0], "_businessunitid_value"+nav)
			}
		})
	}
	t.Run("none unless asked", func(t *testing.T) {
		t.Parallel()
		for k := range get(t, bob, "")[0] {
			assert.False(t, strings.Contains(k, "@Microsoft") || strings.Contains(k, "@OData"), k)
		}
	})
	t.Run("lookups of every table, expanded rows included", func(t *testing.T) {
		t.Parallel()
		const all = `odata.include-annotations="*"`
		settings := get(t, "w365_configurations?$select=_w365_serviceuserid_value", all)[0]
		assert.Equal(t, "Work 365 Service Account", settings["_w365_serviceuserid_value"+formatted])
		assert.Equal(t, "systemuser", settings["_w365_serviceuserid_value"+logical])
		assert.Equal(t, "w365_ServiceUserId", settings["_w365_serviceuserid_value"+nav], "the navigation property, not the logical name")

		job := get(t, "asyncoperations?$select=name,_ownerid_value&$filter=statuscode eq 31", all)[0]
		assert.Equal(t, "Work 365 Service Account", job["_ownerid_value"+formatted])
		team := get(t, "teams?$select=name,_businessunitid_value&$filter="+url.QueryEscape("name eq 'Sales Admins'"), all)[0]
		assert.Equal(t, "Sales", team["_businessunitid_value"+formatted])

		roles := get(t, "roles?$select=name,_parentrootroleid_value&$filter="+url.QueryEscape("name eq 'Basic User'")+
			"&$expand=systemuserroles_association($select=fullname,_businessunitid_value)", all)
		require.Len(t, roles, 2)
		for _, r := range roles {
			assert.Equal(t, "Basic User", r["_parentrootroleid_value"+formatted])
			for _, u := range r["systemuserroles_association"].([]any) {
				assert.NotEmpty(t, u.(map[string]any)["_businessunitid_value"+formatted], "expanded rows are annotated too")
			}
		}
		one := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers("+srv.UserID(prod, "jdoe")+")?$select=_businessunitid_value"), tok, "", "Prefer", all).object(t)
		assert.Equal(t, "Contoso", one["_businessunitid_value"+formatted])
	})
	t.Run("null lookups and unselected columns carry none", func(t *testing.T) {
		t.Parallel()
		rootRow := get(t, "businessunits?$select=name,_parentbusinessunitid_value&$filter=_parentbusinessunitid_value eq null", `odata.include-annotations="*"`)[0]
		assert.NotContains(t, rootRow, "_parentbusinessunitid_value"+formatted)
		assert.NotContains(t, rootRow, "_parentbusinessunitid_value"+logical)
		user := get(t, "systemusers?$select=fullname&$top=1", `odata.include-annotations="*"`)[0]
		assert.NotContains(t, user, "_businessunitid_value"+formatted)
	})
	t.Run("an excluded annotation is left out", func(t *testing.T) {
		t.Parallel()
		row := get(t, bob, `odata.include-annotations="*,-Microsoft.Dynamics.CRM.lookuplogicalname"`)[0]
		assert.Contains(t, row, "_businessunitid_value"+formatted)
		assert.NotContains(t, row, "_businessunitid_value"+logical)
	})
}
