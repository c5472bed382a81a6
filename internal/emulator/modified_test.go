package emulator

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every row says who created it and who last changed it (createdby, modifiedby, with modifiedon): fixture rows
// SYSTEM unless the fixture names the settings row's last editor, rows written through the Web API their caller.
// The names come as formatted values, like any lookup's.
func TestRowsSayWhoCreatedAndLastChangedThem(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	f.Environments[0].Dataverse.Work365.ModifiedBy = "jdoe"
	f.Environments[0].Dataverse.Work365.Modified = "-30d"
	srv := startFixture(t, f, Options{Now: func() time.Time { return now }})
	tok := dvToken(t, srv)
	auditor := srv.UserID(prod, auditorID)
	require.NotEmpty(t, auditor)
	const (
		formatted = "@OData.Community.Display.V1.FormattedValue"
		all       = `odata.include-annotations="*"`
	)
	get := func(t *testing.T, env, path string) []map[string]any {
		t.Helper()
		resp := call(t, srv, http.MethodGet, dvURL(srv, env, path), orgToken(t, srv, env), "", "Prefer", all)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		return resp.values(t)
	}
	const settings = "w365_configurations?$select=w365_configurationid,modifiedon,_modifiedby_value,_createdby_value"

	t.Run("fixture rows", func(t *testing.T) {
		row := get(t, prod, settings)[0]
		assert.Equal(t, srv.UserID(prod, "jdoe"), row["_modifiedby_value"])
		assert.Equal(t, "Jane Doe", row["_modifiedby_value"+formatted])
		assert.Equal(t, "2026-10-27T12:00:00Z", row["modifiedon"])
		assert.Equal(t, srv.UserID(prod, "SYSTEM"), row["_createdby_value"])
		assert.Equal(t, "SYSTEM", row["_createdby_value"+formatted])

		row = get(t, sandbox, settings)[0]
		assert.Equal(t, "SYSTEM", row["_modifiedby_value"+formatted], "without modified_by, SYSTEM changed it last")
		assert.Equal(t, "2025-11-26T12:00:00Z", row["modifiedon"], "when the row was created, a year before now")

		role := get(t, prod, "roles?$select=name,_createdby_value,_modifiedby_value&$top=1")[0]
		assert.Equal(t, "SYSTEM", role["_createdby_value"+formatted], "every table has the columns")
		assert.Equal(t, "SYSTEM", role["_modifiedby_value"+formatted])
	})

	t.Run("a write through the Web API", func(t *testing.T) {
		id := get(t, prod, settings)[0]["w365_configurationid"].(string)
		app := srv.UserID(prod, "w365app")
		// Read-only columns in the body are ignored: the caller is who changed the row.
		body := `{"w365_ServiceUserId@odata.bind":"/systemusers(` + app + `)","_modifiedby_value":"` + srv.UserID(prod, "jdoe") + `","modifiedon":"2020-01-01T00:00:00Z"}`
		resp := call(t, srv, http.MethodPatch, dvURL(srv, prod, "w365_configurations("+id+")"), tok, body, "If-Match", "*")
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		row := get(t, prod, settings)[0]
		assert.Equal(t, auditor, row["_modifiedby_value"])
		assert.Equal(t, "# Compliance Auditor", row["_modifiedby_value"+formatted])
		assert.Equal(t, "2026-11-26T12:00:00Z", row["modifiedon"])
		assert.Equal(t, srv.UserID(prod, "SYSTEM"), row["_createdby_value"], "an update does not change who created the row")

		resp = call(t, srv, http.MethodPost, dvURL(srv, prod, "systemusers"), tok, `{"applicationid":"`+work365EU+`"}`)
		require.Equal(t, http.StatusNoContent, resp.status, "%s", resp.body)
		created := get(t, prod, "systemusers?$select=_createdby_value,_modifiedby_value&$filter="+url.QueryEscape("applicationid eq "+work365EU))
		require.Len(t, created, 1)
		assert.Equal(t, auditor, created[0]["_createdby_value"])
		assert.Equal(t, auditor, created[0]["_modifiedby_value"])
	})

	t.Run("their relationships", func(t *testing.T) {
		rows := get(t, prod, "EntityDefinitions(LogicalName='w365_configuration')/ManyToOneRelationships?$select=SchemaName,ReferencingEntityNavigationPropertyName,ReferencedEntity,IsCustomRelationship&$filter="+
			url.QueryEscape("ReferencingAttribute eq 'modifiedby'"))
		require.Len(t, rows, 1)
		delete(rows[0], "MetadataId")
		assert.Equal(t, map[string]any{"SchemaName": "lk_w365_configuration_modifiedby", "ReferencingEntityNavigationPropertyName": "modifiedby",
			"ReferencedEntity": "systemuser", "IsCustomRelationship": false}, rows[0])
		expanded := get(t, prod, "w365_configurations?$select=w365_name&$expand=modifiedby($select=fullname)")
		require.Len(t, expanded, 1)
		assert.Equal(t, get(t, prod, settings)[0]["_modifiedby_value"+formatted], expanded[0]["modifiedby"].(map[string]any)["fullname"])
	})
}
