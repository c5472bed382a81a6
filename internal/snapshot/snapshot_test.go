package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSaveAndLoadRoundTripWithOwnerOnlyPermissions(t *testing.T) {
	t.Parallel()
	s := &Snapshot{SchemaVersion: SchemaVersion, CollectedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Tenants: []Tenant{{Name: "b", Environments: []Environment{{ID: "2", Name: "Z", Status: StatusOK}, {ID: "1", Name: "A", Status: StatusSkipped}}}, {Name: "a"}}}
	s.Sort()
	assert.Equal(t, "a", s.Tenants[0].Name)
	assert.Equal(t, "A", s.Tenants[1].Environments[0].Name)

	p := filepath.Join(t.TempDir(), "snap.json")
	require.NoError(t, Save(p, s))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err := Load(p)
	require.NoError(t, err)
	assert.Equal(t, s, got)
}

func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"schema_version": 4, "tenants": []}`:             "upgrade audit",
		`{"schema_version": 0}`:                            "unknown version",
		`{"tenants": []}`:                                  "no schema_version",
		`{"schema_version": 1, "tenants": [], "extra": 1}`: "unknown field",
	}
	for body, want := range cases {
		_, err := Decode(bytes.NewReader([]byte(body)))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want)
		if want != "unknown field" {
			assert.True(t, errors.Is(err, ErrUnsupportedVersion), body)
		}
	}
}

// A version 1 snapshot is read as version 2: the settings table's entity set and the lookup move to their new
// names, and nothing else changes.
func TestVersionOneSnapshotsAreMigrated(t *testing.T) {
	t.Parallel()
	v1 := `{"schema_version": 1, "tool": {"name": "audit", "version": "v0.9"}, "collected_at": "2026-11-26T12:00:00Z",
	  "settings": {"solution_name": "Work365", "app_ids": {"US": "e4b1a995-abe3-4350-a61c-65fccd32e8bd"}, "role_names": ["Work 365 Service"],
	    "lookback_days": 7, "settings_table": "w365_configurations", "service_user_attribute": "w365_serviceuserid"},
	  "tenants": [{"name": "contoso", "id": "t", "environments": [{"id": "e", "name": "Prod", "type": "Production", "region": "unitedstates",
	    "has_dataverse": true, "status": "ok", "dataverse": {"work365": {"installed": true, "version": "3.6"}, "application_users": [],
	    "service_user": {"configured": false}, "service_role_holders": [], "failed_jobs": {"lookback_days": 7, "since": "2026-11-19T12:00:00Z", "count": 0, "recent": []},
	    "flows": [], "connection_references": [], "email_templates": []}}]}]}`
	s, err := Decode(bytes.NewReader([]byte(v1)))
	require.NoError(t, err)
	assert.Equal(t, SchemaVersion, s.SchemaVersion)
	assert.Equal(t, "w365_configurations", s.Settings.SettingsEntitySet)
	assert.Equal(t, "w365_serviceuserid", s.Settings.ServiceUserLookup)
	assert.Empty(t, s.Settings.SettingsTable)
	require.NotNil(t, s.Tenants[0].Environments[0].Dataverse)
	assert.Equal(t, "3.6", s.Tenants[0].Environments[0].Dataverse.Work365.Version)
}

// A version 2 snapshot reads as version 3 unchanged: it only lacks when the service-user setting last changed.
// A version 3 one keeps both fields.
func TestVersionTwoSnapshotsReadWithoutTheSettingsChange(t *testing.T) {
	t.Parallel()
	body := func(version int, serviceUser string) string {
		return fmt.Sprintf(`{"schema_version": %d, "tool": {"name": "audit", "version": "v1.0"}, "collected_at": "2026-11-26T12:00:00Z",
	  "settings": {"solution_name": "Work365", "app_ids": {}, "role_names": [], "lookback_days": 7, "settings_table": "w365_configuration",
	    "settings_entity_set": "w365_configurations", "service_user_lookup": "w365_serviceuserid"},
	  "tenants": [{"name": "contoso", "id": "t", "environments": [{"id": "e", "name": "Prod", "type": "Production", "region": "unitedstates",
	    "has_dataverse": true, "status": "ok", "dataverse": {"work365": {"installed": true, "version": "3.6"}, "application_users": [],
	    "service_user": %s, "service_role_holders": [],
	    "failed_jobs": {"lookback_days": 7, "since": "2026-11-19T12:00:00Z", "count": 0, "recent": []},
	    "flows": [], "connection_references": [], "email_templates": []}}]}]}`, version, serviceUser)
	}
	v2, err := Decode(bytes.NewReader([]byte(body(2, `{"configured": true, "setting_id": "s", "user_id": "u"}`))))
	require.NoError(t, err)
	assert.Equal(t, SchemaVersion, v2.SchemaVersion)
	assert.Equal(t, "w365_configurations", v2.Settings.SettingsEntitySet, "settings names are not migrated again")
	su := v2.Tenants[0].Environments[0].Dataverse.ServiceUser
	assert.Equal(t, ServiceUser{Configured: true, SettingID: "s", UserID: "u"}, su)

	v3, err := Decode(bytes.NewReader([]byte(body(3, `{"configured": true, "setting_id": "s", "user_id": "u",
	  "setting_modified_on": "2026-10-01T08:00:00Z", "setting_modified_by": {"id": "m", "name": "Jane Doe"}}`))))
	require.NoError(t, err)
	su = v3.Tenants[0].Environments[0].Dataverse.ServiceUser
	assert.Equal(t, time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC), su.SettingModifiedOn)
	assert.Equal(t, &Reference{ID: "m", Name: "Jane Doe"}, su.SettingModifiedBy)
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, v2))
	assert.NotContains(t, buf.String(), "setting_modified", "absent when unknown")
}

// Roles sort by name and ID, a direct role before the same role held through a team.
func TestRolesHeldThroughTeamsSortAfterDirectOnes(t *testing.T) {
	t.Parallel()
	team := &Team{ID: "t1", Name: "Ops"}
	s := &Snapshot{Tenants: []Tenant{{Environments: []Environment{{Dataverse: &Dataverse{ApplicationUsers: []User{{ID: "u", Roles: []Role{
		{ID: "r2", Name: "Work 365 Service", Team: team}, {ID: "r1", Name: "Basic User"}, {ID: "r2", Name: "Work 365 Service"},
	}}}}}}}}}
	s.Sort()
	got := s.Tenants[0].Environments[0].Dataverse.ApplicationUsers[0].Roles
	assert.Equal(t, []Role{{ID: "r1", Name: "Basic User"}, {ID: "r2", Name: "Work 365 Service"}, {ID: "r2", Name: "Work 365 Service", Team: team}}, got)
}
