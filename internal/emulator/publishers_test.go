package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startWithPublishers(t *testing.T) *Server {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	dv := f.Environments[0].Dataverse
	dv.Publishers = []Publisher{{UniqueName: "work365", FriendlyName: "Work 365 Ltd", Prefix: "w365"}, {UniqueName: "contoso", Prefix: "cnt"}}
	dv.Solutions[0].Publisher = "work365"
	dv.Solutions = append(dv.Solutions, Solution{UniqueName: "ContosoCustomizations", Version: "1.0.0.0", Publisher: "contoso"}, Solution{UniqueName: "Active", Version: "1.0"})
	return startFixture(t, f, Options{})
}

func TestPublishersAndNavigationFilters(t *testing.T) {
	t.Parallel()
	srv := startWithPublishers(t)
	tok := dvToken(t, srv)
	get := func(t *testing.T, path string, headers ...string) []map[string]any {
		t.Helper()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, path), tok, "", headers...)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		return resp.values(t)
	}

	t.Run("publishers, the default one included", func(t *testing.T) {
		t.Parallel()
		rows := get(t, "publishers?$select=uniquename,friendlyname,customizationprefix&$orderby=uniquename")
		assert.Equal(t, []string{"contoso", "DefaultPublishercontosoprod", "work365"}, names(rows, "uniquename"))
		assert.Equal(t, []string{"contoso", "Default Publisher for contosoprod", "Work 365 Ltd"}, names(rows, "friendlyname"))
		assert.Equal(t, []string{"cnt", "new", "w365"}, names(rows, "customizationprefix"))
	})
	tests := []struct {
		filter string
		want   []string
	}{
		{"publisherid/uniquename eq 'work365'", []string{"Work365"}},
		{"publisherid/uniquename eq 'WORK365'", []string{"Work365"}},
		{"publisherid/customizationprefix eq 'new'", []string{"Active"}},
		{"publisherid/uniquename eq 'contoso' or uniquename eq 'Work365'", []string{"ContosoCustomizations", "Work365"}},
		{"(publisherid/customizationprefix eq 'w365' or publisherid/customizationprefix eq 'cnt') and version eq '1.0.0.0'", []string{"ContosoCustomizations"}},
		{"not (publisherid/uniquename eq 'work365')", []string{"Active", "ContosoCustomizations"}},
		{"startswith(uniquename,'Work') and publisherid/friendlyname eq 'Work 365 Ltd'", []string{"Work365"}},
		{"publisherid/uniquename eq 'nobody'", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			got := names(get(t, "solutions?$select=uniquename,_publisherid_value&$filter="+url.QueryEscape(tt.filter)), "uniquename")
			sort.Strings(got)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("the solution's publisher lookup", func(t *testing.T) {
		t.Parallel()
		rows := get(t, "solutions?$select=uniquename,_publisherid_value&$filter="+url.QueryEscape("uniquename eq 'Work365'")+"&$expand=publisherid($select=uniquename,customizationprefix)",
			"Prefer", `odata.include-annotations="*"`)
		require.Len(t, rows, 1)
		pub := rows[0]["publisherid"].(map[string]any)
		assert.Equal(t, "work365", pub["uniquename"])
		assert.Equal(t, pub["publisherid"], rows[0]["_publisherid_value"])
		assert.Equal(t, "Work 365 Ltd", rows[0]["_publisherid_value@OData.Community.Display.V1.FormattedValue"])
		assert.Equal(t, "publisher", rows[0]["_publisherid_value@Microsoft.Dynamics.CRM.lookuplogicalname"])
		rels := get(t, "EntityDefinitions(LogicalName='solution')/ManyToOneRelationships?$select=ReferencingEntityNavigationPropertyName,ReferencedEntity&$filter="+
			url.QueryEscape("ReferencedEntity eq 'publisher'"))
		require.Len(t, rels, 1)
		assert.Equal(t, "publisherid", rels[0]["ReferencingEntityNavigationPropertyName"])
	})
	t.Run("navigation paths on other lookups", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, []string{"Bob O'Brien"}, names(get(t, "systemusers?$select=fullname&$filter="+url.QueryEscape("businessunitid/name eq 'Sales'")), "fullname"))
		assert.Equal(t, []string{"Contoso"}, names(get(t, "businessunits?$select=name&$filter="+url.QueryEscape("parentbusinessunitid/name eq null")), "name"), "a null lookup compares as null")
		assert.Len(t, get(t, "asyncoperations?$select=name&$filter="+url.QueryEscape("ownerid/isdisabled eq true")), 2)
	})
}

func TestNavigationFilterErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	tests := []struct {
		name    string
		filter  string
		message string
	}{
		{"collection-valued", "systemuserroles_association/name eq 'x'", "is collection-valued"},
		{"unknown navigation", "nosuch/name eq 'x'", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"unknown column of the target", "businessunitid/nosuch eq 'x'", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.businessunit'."},
		{"two levels", "businessunitid/parentbusinessunitid/name eq 'x'", "one level deep"},
		{"wrong literal type", "businessunitid/name eq 4", "incompatible types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "systemusers?$filter="+url.QueryEscape(tt.filter)), tok, "")
			require.Equal(t, http.StatusBadRequest, resp.status, "%s", resp.body)
			assert.Equal(t, "0x80060888", resp.errorCode(t))
			assert.Contains(t, resp.errorMessage(t), tt.message)
		})
	}
}

func TestPublisherFixtureErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail string
		want string
	}{
		{"unknown publisher", "      solutions: [{uniquename: X, publisher: nobody}]\n", `solution "X": unknown publisher "nobody" (line 16)`},
		{"bad prefix", "      publishers: [{uniquename: w365, prefix: W365}]\n", `publisher "w365": prefix "W365" is not a customization prefix`},
		{"duplicate publisher", "      publishers: [{uniquename: w, prefix: ab}, {uniquename: W, prefix: cd}]\n", `publisher "W": duplicate uniquename`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFixture([]byte(fixtureHead+tt.tail), "")
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
