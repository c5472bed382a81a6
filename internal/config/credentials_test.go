package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testTenant   = "3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f"
	testClient   = "6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b"
	testIdentity = "7c2d9e41-5b3a-4f68-9d0e-1a2b3c4d5e6f"
)

func TestManagedIdentityAndDeviceCodeCredentials(t *testing.T) {
	t.Parallel()
	yaml := `tenants:
  - name: system
    tenant_id: ` + testTenant + `
    managed_identity: true
  - name: user
    tenant_id: ` + testTenant + `
    managed_identity: true
    managed_identity_client_id: ` + testIdentity + `
  - name: admin
    tenant_id: ` + testTenant + `
    client_id: ` + testClient + `
    device_code: true
`
	c, err := Parse([]byte(yaml), "audit.yaml")
	require.NoError(t, err)
	getenv := func(string) string { return "" }
	want := []Credential{{ManagedIdentity: true}, {ManagedIdentity: true, ManagedIdentityClientID: testIdentity}, {DeviceCode: true}}
	for i, tn := range c.Tenants {
		cred, err := c.Credential(tn, getenv)
		require.NoError(t, err)
		assert.Equal(t, want[i], cred, tn.Name)
	}
}

func TestCredentialKeysAreValidatedWithLineNumbers(t *testing.T) {
	t.Parallel()
	head := "tenants:\n  - name: a\n    tenant_id: " + testTenant + "\n"
	cases := []struct{ name, yaml, want string }{
		{"managed identity with a client_id", head + "    client_id: " + testClient + "\n    managed_identity: true\n",
			`audit.yaml:2: tenant "a": client_id is not used with managed_identity: name a user-assigned identity with managed_identity_client_id`},
		{"managed identity client ID alone", head + "    client_id: " + testClient + "\n    client_secret_env: S\n    managed_identity_client_id: " + testIdentity + "\n",
			`audit.yaml:2: tenant "a": managed_identity_client_id needs managed_identity: true`},
		{"managed identity client ID not a GUID", head + "    managed_identity: true\n    managed_identity_client_id: web-app\n",
			`audit.yaml:2: tenant "a": managed_identity_client_id "web-app" is not a GUID`},
		{"managed identity and a secret", head + "    managed_identity: true\n    client_secret_env: S\n",
			`audit.yaml:2: tenant "a" has more than one credential: keep exactly one of client_secret_env, client_secret_file, client_certificate_path, federated_token_file, managed_identity, device_code`},
		{"device code and a certificate", head + "    client_id: " + testClient + "\n    device_code: true\n    federated_token_file: t\n",
			`audit.yaml:2: tenant "a" has more than one credential`},
		{"device code without a client_id", head + "    device_code: true\n",
			`audit.yaml:2: tenant "a": client_id "" is not a GUID`},
		{"no credential names every kind", head + "    client_id: " + testClient + "\n",
			`set client_secret_env, client_secret_file, client_certificate_path, federated_token_file, managed_identity or device_code`},
		{"not a boolean", head + "    managed_identity: yes please\n", `audit.yaml:4: cannot unmarshal`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml), "audit.yaml")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFromEnvironmentWithAFederatedTokenAndTheBAPEndpoint(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AZURE_TENANT_ID":            testTenant,
		"AZURE_CLIENT_ID":            testClient,
		"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
		"AZURE_AUTHORITY_HOST":       "https://127.0.0.1:9443/",
		"AUDIT_BAP_URL":              "https://127.0.0.1:9444/",
		"AUDIT_BAP_SCOPE":            "https://service.powerapps.com/.default",
	}
	c, err := FromEnvironment(func(k string) string { return env[k] })
	require.NoError(t, err)
	tn := c.Tenants[0]
	cred, err := c.Credential(tn, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, Credential{FederatedTokenFile: "/var/run/secrets/azure/tokens/azure-identity-token"}, cred)
	ep, err := tn.Endpoints()
	require.NoError(t, err)
	assert.Equal(t, Endpoints{Cloud: "public", AuthorityHost: "https://127.0.0.1:9443", BAPURL: "https://127.0.0.1:9444",
		BAPScope: "https://service.powerapps.com/.default"}, ep)

	env["AUDIT_BAP_URL"] = "http://127.0.0.1:9444"
	_, err = FromEnvironment(func(k string) string { return env[k] })
	assert.ErrorContains(t, err, `bap "http://127.0.0.1:9444" must be an https URL`)
}

// Relative federated token files resolve against the config file, as the other credential files do.
func TestFederatedTokenFileResolvesAgainstTheConfigFile(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("tenants:\n  - name: a\n    tenant_id: "+testTenant+"\n    client_id: "+testClient+"\n    federated_token_file: token.jwt\n"),
		filepath.Join("/etc/audit", "audit.yaml"))
	require.NoError(t, err)
	cred, err := c.Credential(c.Tenants[0], func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("/etc/audit", "token.jwt"), cred.FederatedTokenFile)
}
