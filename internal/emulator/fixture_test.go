package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fixtureHead = `tenant:
  id: 3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f
  name: contoso
clients:
  - name: Auditor
    client_id: 11111111-2222-4333-8444-555555555555
    secret: s
environments:
  - name: Prod
    dataverse:
      roles: [System Administrator, Work 365 Service]
      business_units: [{name: Root}, {name: Sales, parent: Root}]
      users:
        - key: jdoe
          fullname: Jane Doe
`

func TestParseFixtureErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail string
		want []string
	}{
		{"unknown key", "          colour: red\n", []string{"line 16", "field colour not found"}},
		{"unknown role", "          roles: [Work 365 Servic]\n", []string{`environment "Prod"`, `user "jdoe"`, `unknown role "Work 365 Servic"`, "line 16"}},
		{"unknown business unit", "          business_unit: Marketing\n", []string{`environment "Prod"`, `unknown business unit "Marketing"`, "line 16"}},
		{"bad time", "          created: yesterday\n", []string{`user "jdoe"`, `time "yesterday"`, "line 16"}},
		{"bad application ID", "          applicationid: not-a-guid\n", []string{`applicationid "not-a-guid" is not a GUID`, "line 16"}},
		{"unknown owner", "      workflows: [{name: Flow, owner: ghost}]\n", []string{`environment "Prod"`, `workflow "Flow"`, `unknown user key "ghost"`, "line 16"}},
		{"unknown service user", "      work365: {service_user: ghost}\n", []string{`work365.service_user`, `"ghost"`, "line 16"}},
		{"unknown modifier", "      work365: {service_user: jdoe, modified_by: ghost}\n", []string{`work365.modified_by`, `unknown user key "ghost"`, "line 16"}},
		{"modifier of no row", "      work365: {modified_by: jdoe}\n", []string{`work365.modified_by and modified describe the settings row`, "line 16"}},
		{"bad modification time", "      work365: {service_user: jdoe, modified: lately}\n", []string{`work365.modified`, `time "lately"`, "line 16"}},
		{"duplicate user", "        - key: JDOE\n", []string{`duplicate user key "JDOE"`, "line 16"}},
		{"unknown fault body", "    faults: {rules: [{body: xml}]}\n", []string{`environment "Prod"`, `unknown body "xml"`, "line 16"}},
		{"bad access", "    access: admin\n", []string{`access "admin"`, "line 16"}},
		{"settings table without prefix", "      work365: {settings_table: configuration}\n", []string{`environment "Prod"`, `work365.settings_table "configuration"`, "line 16"}},
		{"settings table named like a built-in one", "      work365: {settings_table: x_role, settings_entity_set: roles}\n", []string{`built-in table`}},
		{"lookup without its navigation property", "      work365: {service_user_lookup: cr7_runas}\n", []string{`work365.service_user_navigation is required`, `"cr7_runas"`}},
		{"custom table without prefix", "      custom_tables: [{logical_name: invoice}]\n", []string{`custom_tables[0]: logical_name "invoice"`, "line 16"}},
		{"custom table named like the settings table", "      work365: {}\n      custom_tables: [{logical_name: w365_configuration}]\n", []string{`custom table "w365_configuration": duplicate`}},
		{"custom table named like a built-in one", "      custom_tables: [{logical_name: x_team, entity_set: systemusers}]\n", []string{`built-in table`}},
		{"upper-case lookup", "      work365: {service_user_lookup: w365_ServiceUserId, service_user_navigation: w365_ServiceUserId}\n", []string{`work365.service_user_lookup "w365_ServiceUserId"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFixture([]byte(fixtureHead+tt.tail), "")
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		_, err := ParseFixture(nil, "")
		assert.ErrorContains(t, err, "empty document")
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadFixture("testdata/none.yaml")
		assert.ErrorContains(t, err, "load fixture")
	})
}

func TestFixtureFilesResolveAgainstTheFixture(t *testing.T) {
	dir := t.TempDir()
	key := newTestKey(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "certs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "certs", "auditor.crt"), key.pem, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fed.pub.pem"), key.publicPEM(t), 0o644))
	t.Setenv("EMULATOR_TEST_SECRET", "from-env")
	doc := `tenant: {id: 3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f, name: contoso}
clients:
  - name: Auditor
    client_id: 11111111-2222-4333-8444-555555555555
    secret_env: EMULATOR_TEST_SECRET
    certificates: [certs/auditor.crt]
    federated_issuers: [{issuer: "https://issuer.example", subject: ci, key: fed.pub.pem}]
`
	path := filepath.Join(dir, "tenant.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	f, err := LoadFixture(path)
	require.NoError(t, err)
	c := f.Clients[0]
	assert.Equal(t, "from-env", c.Secret)
	assert.Equal(t, [][]byte{key.pem}, c.CertificatePEMs)
	assert.Equal(t, filepath.Join(dir, "certs", "auditor.crt"), c.Certificates[0])
	assert.Equal(t, key.publicPEM(t), c.FederatedIssuers[0].KeyPEM)

	_, err = ParseFixture([]byte(strings.Replace(doc, "EMULATOR_TEST_SECRET", "EMULATOR_TEST_UNSET_VARIABLE", 1)), dir)
	assert.ErrorContains(t, err, "secret_env EMULATOR_TEST_UNSET_VARIABLE is not set (line 5)")
	_, err = ParseFixture([]byte(doc), t.TempDir())
	assert.ErrorContains(t, err, "certificate (line 6)")
}

func TestRelativeTimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	srv := startServer(t, Options{Now: func() time.Time { return now }})
	jobs := srv.Rows(prod, "asyncoperations")
	created := map[string]any{}
	for _, j := range jobs {
		created[j["name"].(string)] = j["createdon"]
	}
	assert.Equal(t, "2026-11-18T21:30:00Z", created["Work 365 - Sync Subscriptions"], "-36h")
	assert.Equal(t, "2026-11-10T09:30:00Z", created["Work 365 - Invoice Run"], "-10d")
	assert.Equal(t, "2025-06-01T00:00:00Z", srv.Rows(prod, "solutions")[0]["installedon"])

	for _, tt := range []struct {
		in   string
		want time.Duration
	}{{"-36h", -36 * time.Hour}, {"-10d", -240 * time.Hour}, {"1d12h", 36 * time.Hour}, {"+90m", 90 * time.Minute}} {
		got, err := parseRelativeDuration(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"d", "-", "10x", "1d-2h"} {
		_, err := parseRelativeDuration(bad)
		assert.Error(t, err, bad)
	}
}

func TestGeneratedIDsAreDeterministic(t *testing.T) {
	t.Parallel()
	a := startServer(t, Options{})
	b := startServer(t, Options{})
	for _, set := range []string{"systemusers", "roles", "businessunits", "asyncoperations", "w365_configurations"} {
		assert.Equal(t, names(a.Rows(prod, set), strings.TrimSuffix(set, "s")+"id"), names(b.Rows(prod, set), strings.TrimSuffix(set, "s")+"id"), set)
	}
	assert.Equal(t, a.EnvironmentID(sandbox), b.EnvironmentID(sandbox))
	assert.Equal(t, a.UserID(prod, "jdoe"), b.UserID(prod, "jdoe"))
	assert.NotEqual(t, a.UserID(prod, "jdoe"), a.UserID(sandbox, auditorID))
}

func TestGoBuiltFixture(t *testing.T) {
	t.Parallel()
	f := &Fixture{
		Tenant:            TenantInfo{Name: "fabrikam"},
		Clients:           []Client{{Name: "Auditor", ClientID: auditorID, Secret: "s"}},
		ServicePrincipals: []ServicePrincipal{{AppID: work365US, Name: "Work 365"}},
	}
	for i := range 20 {
		env := Environment{Name: fmt.Sprintf("Env %02d", i), Dataverse: &Dataverse{
			Roles: []string{"System Administrator", "Work 365 Service", "Work 365 Portal Service"},
		}}
		for u := range 30 {
			env.Dataverse.Users = append(env.Dataverse.Users, User{FullName: fmt.Sprintf("User %d", u), DomainName: fmt.Sprintf("u%d@fabrikam.onmicrosoft.com", u)})
		}
		f.Environments = append(f.Environments, env)
	}
	srv := startFixture(t, f, Options{})
	assert.Equal(t, deterministicID("tenant", "fabrikam"), srv.TenantID())
	assert.Regexp(t, `^https://127\.0\.0\.1:\d+/$`, srv.InstanceURL("Env 07"))
	assert.Len(t, srv.Rows("env07", "systemusers"), 33, "30 people, the client's application user, SYSTEM and INTEGRATION")
	tok := secretToken(t, srv, auditorID, "s", srv.DataverseScope("Env 19"))
	resp := call(t, srv, "GET", dvURL(srv, "Env 19", "roles?$select=name"), tok, "")
	assert.Len(t, resp.values(t), 3)

	_, err := New(&Fixture{Tenant: TenantInfo{Name: "x"}, Environments: []Environment{{Name: "A", Dataverse: &Dataverse{Users: []User{{Key: "a", Roles: []string{"Nope"}}}}}}}, Options{})
	assert.ErrorContains(t, err, `environment "A": user "a": unknown role "Nope"`)
	_, err = New(nil, Options{})
	assert.Error(t, err)
}

func TestMinimalFixtureContent(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(minimalFixture)
	require.NoError(t, err)
	require.Len(t, f.Environments, 3)
	w := f.Environments[1].Dataverse.Work365
	require.NotNil(t, w.ServiceUser, "service_user: null keeps a settings row")
	assert.Equal(t, "", *w.ServiceUser)
	require.NotNil(t, w.ClearCacheAction)
	assert.Equal(t, "", *w.ClearCacheAction, "clear_cache_action: null removes the action")
	assert.Nil(t, f.Environments[0].Dataverse.Work365.ClearCacheAction, "omitted means the default action")
	assert.Nil(t, f.Environments[2].Dataverse)
}
