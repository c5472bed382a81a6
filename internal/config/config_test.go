package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const good = `tenants:
  - name: contoso
    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f
    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b
    client_secret_env: CONTOSO_SECRET
    authority: https://127.0.0.1:9443
    bap: https://127.0.0.1:9444/
    environments: {include: ["Contoso *"], exclude: ["*Sandbox"]}
  - name: fabrikam
    tenant_id: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
    client_id: 0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a
    federated_token_file: /var/run/secrets/token
    cloud: gcchigh
collect:
  concurrency: 32
  timeout: 90s
work365:
  settings_table: w365_settings
policy_data:
  regions: {unitedkingdom: EU}
waivers:
  - rule: W365.ROLES.3
    environment: Contoso Sandbox
    reason: Temporary admin rights for a data migration
    owner: jdoe@contoso.com
    ticket: CHG-1234
    expires: 2026-12-31
`

func TestParseReadsTheContractAndAppliesDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(good), "audit.yaml")
	require.NoError(t, err)
	require.Len(t, c.Tenants, 2)
	assert.Equal(t, 2, c.Tenants[0].Line)
	assert.Equal(t, 32, c.Collect.Concurrency)
	assert.Equal(t, Duration(90*time.Second), c.Collect.Timeout)
	assert.Equal(t, DefaultPerEnvironment, c.Collect.PerEnvironment)
	assert.Equal(t, "w365_settings", c.Work365.SettingsTable)
	assert.Equal(t, DefaultServiceUserAttr, c.Work365.ServiceUserLookup)
	assert.Empty(t, c.Work365.ServiceUserNavigation, "read from metadata unless configured")
	assert.Equal(t, "Work 365", c.Work365.SolutionFriendlyName)
	assert.Equal(t, "w365_", c.Work365.TablePrefix)
	assert.Equal(t, Duration(5*time.Minute), c.Collect.MaxRetryAfter)
	assert.Equal(t, Duration(10*time.Minute), c.Collect.MaxRetryWait)
	assert.Equal(t, map[string]any{"unitedkingdom": "EU"}, c.PolicyData["regions"])
	require.Len(t, c.Waivers, 1)
	assert.Equal(t, "2026-12-31", c.Waivers[0].Expires.String())
	assert.Equal(t, 22, c.Waivers[0].Line)

	ep, err := c.Tenants[0].Endpoints()
	require.NoError(t, err)
	assert.Equal(t, Endpoints{Cloud: "public", AuthorityHost: "https://127.0.0.1:9443", BAPURL: "https://127.0.0.1:9444",
		BAPScope: "https://service.powerapps.com/.default"}, ep)
	ep, err = c.Tenants[1].Endpoints()
	require.NoError(t, err)
	assert.Equal(t, "https://login.microsoftonline.us", ep.AuthorityHost)
	assert.Equal(t, "https://high.api.bap.microsoft.us", ep.BAPURL)
}

func TestParseReportsProblemsWithLineNumbers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "tenants:\n  - name: a\n    tenant_idd: x\n", []string{`audit.yaml:3: unknown key "tenant_idd" in a tenant`}},
		{"unknown top-level key", "tenant:\n  - name: a\n", []string{`audit.yaml:1: unknown key "tenant" in the top level`}},
		{"bad guid", "tenants:\n  - name: a\n    tenant_id: not-a-guid\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_env: S\n",
			[]string{`audit.yaml:2: tenant "a": tenant_id "not-a-guid" is not a GUID`}},
		{"bad glob", "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_env: S\n    environments: {include: [\"[prod\"]}\n",
			[]string{`audit.yaml:2: tenant "a": environment pattern "[prod" is not a valid glob`}},
		{"unreadable certificate", "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_certificate_path: missing.pem\n",
			[]string{`audit.yaml:2: tenant "a": client_certificate_path: cannot read`}},
		{"no credential", "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n",
			[]string{`audit.yaml:2: tenant "a" has no credential`}},
		{"http authority", "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_env: S\n    authority: http://127.0.0.1\n",
			[]string{`audit.yaml:2: tenant "a": authority "http://127.0.0.1" must be an https URL`}},
		{"bad duration", "tenants: []\ncollect:\n  timeout: soon\n", []string{`audit.yaml:3: "soon" is not a duration`}},
		{"waiver without expiry", "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_env: S\nwaivers:\n  - {rule: W365.ROLES.3, environment: x, reason: r, owner: o}\n",
			[]string{`audit.yaml:7: waiver 1 needs an expires date`}},
		{"empty", "", []string{"audit.yaml: the config file is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml), filepath.Join(dir, "audit.yaml"))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRelativeFilesResolveAgainstTheConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("s3cret\n"), 0o600))
	yaml := "tenants:\n  - name: a\n    tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f\n    client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b\n    client_secret_file: secret.txt\n"
	path := filepath.Join(dir, "audit.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	cred, err := c.Credential(c.Tenants[0], func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "s3cret", cred.Secret)
}

func TestCredentialFromAnEmptyVariableSaysWhichVariable(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(good), "audit.yaml")
	require.NoError(t, err)
	_, err = c.Credential(c.Tenants[0], func(string) string { return "" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CONTOSO_SECRET")
}

func TestFromEnvironmentFollowsTheAzidentityConventions(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AZURE_TENANT_ID":     "3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f",
		"AZURE_CLIENT_ID":     "6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b",
		"AZURE_CLIENT_SECRET": "s",
	}
	c, err := FromEnvironment(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Len(t, c.Tenants, 1)
	assert.Equal(t, "AZURE_CLIENT_SECRET", c.Tenants[0].ClientSecretEnv)

	_, err = FromEnvironment(func(string) string { return "" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--config")
}

func TestFilterMatchesNamesAndIDsCaseInsensitively(t *testing.T) {
	t.Parallel()
	f := Filter{Include: []string{"contoso *"}, Exclude: []string{"*sandbox", "00000000-*"}}
	assert.True(t, f.Match("Contoso Production", "1"))
	assert.False(t, f.Match("Contoso Sandbox", "2"))
	assert.False(t, f.Match("Contoso Finance", "00000000-0000-0000-0000-000000000001"))
	assert.False(t, f.Match("Fabrikam", "3"))
	assert.True(t, Filter{}.Match("anything", "x"))
	lab := Filter{Exclude: []string{"*Lab*"}}
	assert.False(t, lab.Match("R&D/Lab", "4"), "'*' crosses '/' in environment names")
	assert.True(t, lab.Match("R&D/Prod", "5"))
}

// A key earlier versions read says what became of it; a total wait shorter than the ceiling is refused.
func TestRenamedKeysAndRetryBoundsAreExplained(t *testing.T) {
	t.Parallel()
	base := "tenants:\n  - {name: a, tenant_id: 3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f, client_id: 6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b, client_secret_env: S}\n"
	_, err := Parse([]byte(base+"work365:\n  service_user_attribute: w365_serviceuserid\n"), "audit.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `audit.yaml:4: unknown key "service_user_attribute" in work365: it is now service_user_lookup`)

	_, err = Parse([]byte(base+"collect:\n  max_retry_after: 10m\n  max_retry_wait: 5m\n"), "audit.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "collect.max_retry_wait (5m0s) is shorter than collect.max_retry_after (10m0s)")

	c, err := Parse([]byte(base+"collect:\n  max_retry_after: 8m\n"), "audit.yaml")
	require.NoError(t, err)
	assert.Equal(t, Duration(16*time.Minute), c.Collect.MaxRetryWait, "the default total leaves room for two waits at the ceiling")

	_, err = Parse([]byte(base+"policy_data:\n  production_types: [Production, Default]\n"), "audit.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "policy_data.production_types was replaced by non_production_types")
}
