package collect

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// settingsFixture has a settings row last changed by a person the fixture names, one nobody changed since it was
// created, and a second app (a Work 365 admin tool) whose writes the emulator records under its own user.
const settingsFixture = `
tenant: {id: 4c5d6e7f-8091-4a2b-9c3d-4e5f60718293, name: settings, domain: settings.onmicrosoft.com}
clients:
  - {name: Auditor, client_id: 7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d, secret: s}
  - {name: Admin Hub, client_id: 0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5, secret: t}
environments:
  - name: Changed by a person
    dataverse:
      domain: person
      roles: [System Administrator, Work 365 Service, Work 365 Portal Service]
      users:
        - {key: jdoe, fullname: Jane Doe, domainname: jdoe@settings.onmicrosoft.com, roles: [System Administrator]}
        - {key: w365, applicationid: e4b1a995-abe3-4350-a61c-65fccd32e8bd, roles: [Work 365 Service, Work 365 Portal Service]}
      solutions: [{uniquename: Work365, friendlyname: Work 365, version: 3.6.0.0}]
      work365: {service_user: w365, modified_by: jdoe, modified: 2026-09-14T08:30:00Z}
  - name: Never changed
    dataverse:
      domain: never
      roles: [System Administrator, Work 365 Service, Work 365 Portal Service]
      solutions: [{uniquename: Work365, friendlyname: Work 365, version: 3.6.0.0}]
      work365: {service_user: null}
  - name: No settings row
    dataverse:
      domain: norow
      roles: [System Administrator]
      solutions: [{uniquename: Work365, friendlyname: Work 365, version: 3.6.0.0}]
      work365: {}
`

// The snapshot records when the service-user setting last changed and who changed it: as the environment says,
// and, after a change through the Web API by another app, that app's application user at the time of the write.
func TestTheSettingsRowSaysWhenAndByWhomItLastChanged(t *testing.T) {
	t.Parallel()
	fx, err := emulator.ParseFixture([]byte(settingsFixture), "")
	require.NoError(t, err)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	srv, target := startFixture(t, fx, emulator.Options{Now: func() time.Time { return *clock.Load() }})
	collect := func(t *testing.T) map[string]snapshot.ServiceUser {
		t.Helper()
		snap, err := New(options()).Collect(context.Background(), []Target{target})
		require.NoError(t, err)
		out := map[string]snapshot.ServiceUser{}
		for _, e := range snap.Tenants[0].Environments {
			require.Equal(t, snapshot.StatusOK, e.Status, "%s: %v", e.Name, e.Error)
			out[e.Name] = e.Dataverse.ServiceUser
		}
		return out
	}

	got := collect(t)
	person := got["Changed by a person"]
	assert.Equal(t, time.Date(2026, 9, 14, 8, 30, 0, 0, time.UTC), person.SettingModifiedOn)
	assert.Equal(t, &snapshot.Reference{ID: srv.UserID("Changed by a person", "jdoe"), Name: "Jane Doe"}, person.SettingModifiedBy)
	never := got["Never changed"]
	assert.Equal(t, now.AddDate(-1, 0, 0), never.SettingModifiedOn, "the emulator creates fixture rows a year before now")
	assert.Equal(t, &snapshot.Reference{ID: srv.UserID("Never changed", "SYSTEM"), Name: "SYSTEM"}, never.SettingModifiedBy)
	assert.False(t, never.Configured)
	none := got["No settings row"]
	assert.True(t, none.SettingModifiedOn.IsZero())
	assert.Nil(t, none.SettingModifiedBy)

	// Another app switches the service user through the Web API, one hour later.
	const env = "Never changed"
	later := now.Add(time.Hour)
	clock.Store(&later)
	hub := fx.Clients[1].ClientID
	token := srv.MintToken(hub, strings.TrimSuffix(srv.InstanceURL(env), "/"), later.Add(time.Hour))
	settingID := srv.Rows(env, "w365_configurations")[0]["w365_configurationid"].(string)
	req, err := http.NewRequest(http.MethodPatch, srv.InstanceURL(env)+"api/data/v9.2/w365_configurations("+settingID+")",
		strings.NewReader(`{"w365_ServiceUserId@odata.bind":"/systemusers(`+srv.UserID(env, hub)+`)"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", "*")
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	changed := collect(t)[env]
	assert.Equal(t, later, changed.SettingModifiedOn)
	assert.Equal(t, &snapshot.Reference{ID: srv.UserID(env, hub), Name: "# Admin Hub"}, changed.SettingModifiedBy)
	assert.True(t, changed.Configured)
	assert.Equal(t, srv.UserID(env, hub), changed.UserID)
}
