package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startWithCustomTables serves the minimal fixture with two of Work 365's own tables in production, and
// without Work 365 in the sandbox.
func startWithCustomTables(t *testing.T, opts Options) *Server {
	t.Helper()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.Environments[1].Dataverse.Work365 = nil
	f.Environments[0].Dataverse.CustomTables = []CustomTable{{LogicalName: "w365_invoice"}, {LogicalName: "w365_subscription", EntitySet: "w365_subscriptionset", SchemaName: "w365_SubscriptionRecord"}}
	return startFixture(t, f, opts)
}

func TestEntityDefinitions(t *testing.T) {
	t.Parallel()
	srv := startWithCustomTables(t, Options{MaxPageSize: 1})
	tok := dvToken(t, srv)
	base := srv.InstanceURL(prod) + "api/data/v9.2/"
	const sel = "$select=LogicalName,EntitySetName,PrimaryIdAttribute,SchemaName,IsCustomEntity"
	fixed := []string{"asyncoperation", "businessunit", "connectionreference", "publisher", "role", "sdkmessage", "solution", "systemuser", "team", "template", "workflow"}

	tests := []struct {
		name   string
		env    string
		filter string
		want   []string
	}{
		{"by logical name", prod, "LogicalName eq 'w365_configuration'", []string{"w365_configuration"}},
		{"by entity set", prod, "EntitySetName eq 'w365_subscriptionset'", []string{"w365_subscription"}},
		{"custom tables", prod, "IsCustomEntity eq true", []string{"w365_configuration", "w365_invoice", "w365_subscription"}},
		{"system tables", prod, "IsCustomEntity eq false", fixed},
		{"combined", prod, "(LogicalName eq 'systemuser' or LogicalName eq 'W365_INVOICE') and IsCustomEntity eq false", []string{"systemuser"}},
		{"nothing matches", prod, "LogicalName eq 'account'", []string{}},
		{"no settings table without Work 365", sandbox, "LogicalName eq 'w365_configuration'", []string{}},
		{"no filter", sandbox, "", fixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := "EntityDefinitions?" + sel
			if tt.filter != "" {
				q += "&$filter=" + url.QueryEscape(tt.filter)
			}
			resp := call(t, srv, http.MethodGet, dvURL(srv, tt.env, q), orgToken(t, srv, tt.env), "", "Prefer", "odata.maxpagesize=1")
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			obj := resp.object(t)
			assert.Equal(t, srv.InstanceURL(tt.env)+"api/data/v9.2/$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute,SchemaName,IsCustomEntity)", obj["@odata.context"])
			assert.NotContains(t, obj, "@odata.nextLink", "metadata is not paged")
			assert.Empty(t, resp.header.Get("Preference-Applied"))
			got := names(resp.values(t), "LogicalName")
			sort.Strings(got)
			assert.Equal(t, tt.want, got)
			for _, item := range resp.values(t) {
				assert.Regexp(t, `^[0-9a-f-]{36}$`, item["MetadataId"])
				assert.Len(t, item, 6, "the selected properties and MetadataId")
			}
		})
	}

	t.Run("the settings table's definition", func(t *testing.T) {
		t.Parallel()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions?"+sel+"&$filter="+url.QueryEscape("LogicalName eq 'w365_configuration'")), tok, "")
		item := resp.values(t)[0]
		delete(item, "MetadataId")
		assert.Equal(t, map[string]any{"LogicalName": "w365_configuration", "EntitySetName": "w365_configurations",
			"PrimaryIdAttribute": "w365_configurationid", "SchemaName": "w365_Configuration", "IsCustomEntity": true}, item)
	})
	t.Run("one definition", func(t *testing.T) {
		t.Parallel()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions(LogicalName='w365_subscription')?$select=EntitySetName,SchemaName"), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		obj := resp.object(t)
		id := obj["MetadataId"].(string)
		assert.Equal(t, map[string]any{"@odata.context": base + "$metadata#EntityDefinitions(EntitySetName,SchemaName)/$entity",
			"EntitySetName": "w365_subscriptionset", "SchemaName": "w365_SubscriptionRecord", "MetadataId": id}, obj)

		byID := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions("+id+")?$select=LogicalName"), tok, "")
		require.Equal(t, http.StatusOK, byID.status, "%s", byID.body)
		assert.Equal(t, "w365_subscription", byID.object(t)["LogicalName"])

		all := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions(LogicalName='systemuser')"), tok, "").object(t)
		for _, p := range []string{"LogicalName", "SchemaName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute", "IsCustomEntity", "MetadataId"} {
			assert.Contains(t, all, p)
		}
		assert.Equal(t, "fullname", all["PrimaryNameAttribute"])
	})
	t.Run("system tables share their MetadataId across organizations, custom ones do not", func(t *testing.T) {
		t.Parallel()
		id := func(env, logical string) any {
			return call(t, srv, http.MethodGet, dvURL(srv, env, "EntityDefinitions(LogicalName='"+logical+"')?$select=LogicalName"), orgToken(t, srv, env), "").object(t)["MetadataId"]
		}
		assert.Equal(t, id(prod, "systemuser"), id(sandbox, "systemuser"))
		other := startServer(t, Options{})
		assert.NotEqual(t, id(prod, "w365_configuration"), call(t, other, http.MethodGet, dvURL(other, sandbox, "EntityDefinitions(LogicalName='w365_configuration')"), orgToken(t, other, sandbox), "").object(t)["MetadataId"])
	})
	t.Run("custom tables answer without rows", func(t *testing.T) {
		t.Parallel()
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "w365_invoices?$select=w365_name"), tok, "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		assert.Empty(t, resp.values(t))
		assert.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, dvURL(srv, sandbox, "w365_invoices"), orgToken(t, srv, sandbox), "").status)
	})
}

func TestManyToOneRelationships(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	tok := dvToken(t, srv)
	base := srv.InstanceURL(prod) + "api/data/v9.2/"
	const sel = "$select=ReferencingAttribute,ReferencingEntityNavigationPropertyName,ReferencedEntity,ReferencedAttribute,SchemaName"

	resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions(LogicalName='w365_configuration')/ManyToOneRelationships?"+sel+
		"&$filter="+url.QueryEscape("ReferencingAttribute eq 'w365_serviceuserid'")), tok, "")
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	obj := resp.object(t)
	assert.Equal(t, base+"$metadata#EntityDefinitions('w365_configuration')/ManyToOneRelationships(ReferencingAttribute,ReferencingEntityNavigationPropertyName,ReferencedEntity,ReferencedAttribute,SchemaName)", obj["@odata.context"])
	rows := resp.values(t)
	require.Len(t, rows, 1)
	assert.Regexp(t, `^[0-9a-f-]{36}$`, rows[0]["MetadataId"])
	delete(rows[0], "MetadataId")
	assert.Equal(t, map[string]any{"ReferencingAttribute": "w365_serviceuserid", "ReferencingEntityNavigationPropertyName": "w365_ServiceUserId",
		"ReferencedEntity": "systemuser", "ReferencedAttribute": "systemuserid", "SchemaName": "w365_systemuser_w365_configuration_ServiceUserId"}, rows[0])

	t.Run("every lookup of a system table", func(t *testing.T) {
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions(LogicalName='role')/ManyToOneRelationships?"+sel), tok, "").values(t)
		assert.ElementsMatch(t, []string{"businessunitid", "createdby", "modifiedby", "parentroleid", "parentrootroleid"}, names(rows, "ReferencingEntityNavigationPropertyName"))
		rows = call(t, srv, http.MethodGet, dvURL(srv, prod, "EntityDefinitions(LogicalName='role')/ManyToOneRelationships?$filter="+
			url.QueryEscape("ReferencedEntity eq 'businessunit' and (ReferencingAttribute eq 'businessunitid' or ReferencingAttribute eq 'x')")), tok, "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, "businessunitid", rows[0]["ReferencedAttribute"])
		assert.Equal(t, "OneToManyRelationship", rows[0]["RelationshipType"])
	})
	t.Run("a lookup named apart from its navigation property", func(t *testing.T) {
		f, err := LoadFixture(minimalFixture)
		require.NoError(t, err)
		w := f.Environments[0].Dataverse.Work365
		w.SettingsTable, w.ServiceUserLookup, w.ServiceUserNavigation = "cr7_setting", "cr7_runas", "cr7_RunAsUser"
		other := startFixture(t, f, Options{})
		rows := call(t, other, http.MethodGet, dvURL(other, prod, "EntityDefinitions(LogicalName='cr7_setting')/ManyToOneRelationships?$filter="+
			url.QueryEscape("ReferencingAttribute eq 'cr7_runas'")), dvToken(t, other), "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, "cr7_RunAsUser", rows[0]["ReferencingEntityNavigationPropertyName"])
		assert.Equal(t, "cr7_systemuser_cr7_setting_RunAsUser", rows[0]["SchemaName"])
	})
}

func TestMetadataErrors(t *testing.T) {
	t.Parallel()
	srv := startWithCustomTables(t, Options{})
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		code     string
		contains string
	}{
		{"unknown table", http.MethodGet, "EntityDefinitions(LogicalName='account')", 404, "0x80041102", "The entity with a name = 'account' with namemapping = 'Logical' was not found in the MetadataCache."},
		{"settings table without Work 365", http.MethodGet, "EntityDefinitions(LogicalName='w365_configuration')/ManyToOneRelationships", 404, "0x80041102", "'w365_configuration'"},
		{"unknown MetadataId", http.MethodGet, "EntityDefinitions(00000000-0000-0000-0000-000000000001)", 404, "0x80041102", ""},
		{"other navigation", http.MethodGet, "EntityDefinitions(LogicalName='systemuser')/Attributes", 404, "0x80060888", "ManyToOneRelationships"},
		{"unserved property", http.MethodGet, "EntityDefinitions?$select=LogicalName,DisplayName", 400, "0x80060888", "serves only these EntityMetadata properties"},
		{"other operator", http.MethodGet, "EntityDefinitions?$filter=" + url.QueryEscape("LogicalName ne 'x'"), 400, "0x80060888", "the operator 'ne' is not supported"},
		{"function", http.MethodGet, "EntityDefinitions?$filter=" + url.QueryEscape("startswith(LogicalName,'w365')"), 400, "0x80060888", "'startswith' is not supported"},
		{"unfilterable property", http.MethodGet, "EntityDefinitions?$filter=" + url.QueryEscape("SchemaName eq 'x'"), 400, "0x80060888", "supports only '<property> eq <literal>' on EntitySetName, IsCustomEntity, LogicalName"},
		{"wrong literal", http.MethodGet, "EntityDefinitions?$filter=" + url.QueryEscape("IsCustomEntity eq 'true'"), 400, "0x80060888", "the literal 'true' for IsCustomEntity"},
		{"enum literal", http.MethodGet, "EntityDefinitions?$filter=" + url.QueryEscape("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'"), 400, "0x80060888", "'OwnershipType'"},
		{"top", http.MethodGet, "EntityDefinitions?$top=1", 400, "0x80060888", "only $select and $filter"},
		{"write", http.MethodPost, "EntityDefinitions", 405, "0x80060888", "read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := prod
			if tt.name == "settings table without Work 365" {
				env = sandbox
			}
			resp := call(t, srv, tt.method, dvURL(srv, env, tt.path), orgToken(t, srv, env), "")
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.code, resp.errorCode(t))
			assert.Contains(t, resp.errorMessage(t), tt.contains)
		})
	}
}

func TestSdkMessages(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Options{})
	find := func(env, name string) []map[string]any {
		resp := call(t, srv, http.MethodGet, dvURL(srv, env, "sdkmessages?$select=name&$filter="+url.QueryEscape("name eq '"+name+"'")), orgToken(t, srv, env), "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		return resp.values(t)
	}
	assert.Len(t, find(prod, "w365_ClearCache"), 1, "the action exists in production")
	assert.Empty(t, find(sandbox, "w365_ClearCache"), "the sandbox has no Clear Cache action")
	for _, name := range []string{"WhoAmI", "RetrieveUserPrivileges", "Update", "Associate"} {
		p, s := find(prod, name), find(sandbox, name)
		require.Len(t, p, 1, name)
		require.Len(t, s, 1, name)
		assert.Equal(t, p[0]["sdkmessageid"], s[0]["sdkmessageid"], "a standard message has the same ID in every organization")
	}
	t.Run("another action name", func(t *testing.T) {
		t.Parallel()
		f, err := LoadFixture(minimalFixture)
		require.NoError(t, err)
		name := "w365_FlushCache"
		f.Environments[0].Dataverse.Work365.ClearCacheAction = &name
		other := startFixture(t, f, Options{})
		rows := call(t, other, http.MethodGet, dvURL(other, prod, "sdkmessages?$select=name&$filter="+url.QueryEscape("startswith(name,'w365_')")), dvToken(t, other), "").values(t)
		assert.Equal(t, []string{"w365_FlushCache"}, names(rows, "name"))
		assert.Equal(t, http.StatusNoContent, call(t, other, http.MethodPost, dvURL(other, prod, "w365_FlushCache"), dvToken(t, other), `{}`).status)
	})
}
