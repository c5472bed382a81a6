package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/work365/audit/internal/cloud"
)

// Credential is a tenant's credential with its secret material resolved from the environment or a file.
// It never comes from the configuration file itself.
type Credential struct {
	Secret              string
	CertificatePath     string
	CertificatePassword string
	FederatedTokenFile  string
	// ManagedIdentity and ManagedIdentityClientID select the host's managed identity.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// DeviceCode has an administrator sign in at a terminal.
	DeviceCode bool
}

// Endpoints are a tenant's resolved endpoints: the cloud preset with the tenant's overrides.
type Endpoints struct {
	Cloud         string
	AuthorityHost string
	BAPURL        string
	BAPScope      string
}

// Endpoints resolves the tenant's cloud preset and overrides.
func (t Tenant) Endpoints() (Endpoints, error) {
	preset, err := cloud.Lookup(t.Cloud)
	if err != nil {
		return Endpoints{}, err
	}
	e := Endpoints{Cloud: preset.Name, AuthorityHost: preset.AuthorityHost, BAPURL: preset.BAPURL, BAPScope: preset.BAPScope}
	if t.Authority != "" {
		e.AuthorityHost = strings.TrimSuffix(t.Authority, "/")
	}
	if t.BAP != "" {
		e.BAPURL = strings.TrimSuffix(t.BAP, "/")
	}
	if t.BAPScope != "" {
		e.BAPScope = t.BAPScope
	}
	return e, nil
}

// Credential reads the tenant's secret material. getenv is os.Getenv outside tests.
func (c *Config) Credential(t Tenant, getenv func(string) string) (Credential, error) {
	var cred Credential
	switch {
	case t.ClientSecretEnv != "":
		cred.Secret = getenv(t.ClientSecretEnv)
		if cred.Secret == "" {
			return cred, fmt.Errorf("tenant %q: the environment variable %s named by client_secret_env is empty or not set", t.Name, t.ClientSecretEnv)
		}
	case t.ClientSecretFile != "":
		b, err := os.ReadFile(c.resolve(t.ClientSecretFile))
		if err != nil {
			return cred, fmt.Errorf("tenant %q: read client_secret_file: %w", t.Name, err)
		}
		cred.Secret = strings.TrimSpace(string(b))
		if cred.Secret == "" {
			return cred, fmt.Errorf("tenant %q: client_secret_file %s is empty", t.Name, t.ClientSecretFile)
		}
	case t.ClientCertificatePath != "":
		cred.CertificatePath = c.resolve(t.ClientCertificatePath)
		if t.ClientCertificatePasswordEnv != "" {
			cred.CertificatePassword = getenv(t.ClientCertificatePasswordEnv)
		}
	case t.FederatedTokenFile != "":
		cred.FederatedTokenFile = c.resolve(t.FederatedTokenFile)
	case t.ManagedIdentity:
		cred.ManagedIdentity, cred.ManagedIdentityClientID = true, t.ManagedIdentityClientID
	case t.DeviceCode:
		cred.DeviceCode = true
	}
	return cred, nil
}

// FromEnvironment builds the zero-config form from the azidentity conventions:
// AZURE_TENANT_ID, AZURE_CLIENT_ID, and AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH
// (with AZURE_CLIENT_CERTIFICATE_PASSWORD) or AZURE_FEDERATED_TOKEN_FILE; AZURE_AUTHORITY_HOST,
// POWER_PLATFORM_CLOUD, AUDIT_BAP_URL and AUDIT_BAP_SCOPE (the config file's authority, cloud, bap and
// bap_scope) optionally.
func FromEnvironment(getenv func(string) string) (*Config, error) {
	tid, cid := getenv("AZURE_TENANT_ID"), getenv("AZURE_CLIENT_ID")
	if tid == "" || cid == "" {
		return nil, &Error{Msg: "no configuration: pass --config FILE, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_FEDERATED_TOKEN_FILE)"}
	}
	t := Tenant{Name: tid, TenantID: tid, ClientID: cid, Cloud: getenv("POWER_PLATFORM_CLOUD"), Authority: getenv("AZURE_AUTHORITY_HOST"),
		BAP: getenv("AUDIT_BAP_URL"), BAPScope: getenv("AUDIT_BAP_SCOPE")}
	switch {
	case getenv("AZURE_CLIENT_SECRET") != "":
		t.ClientSecretEnv = "AZURE_CLIENT_SECRET"
	case getenv("AZURE_CLIENT_CERTIFICATE_PATH") != "":
		t.ClientCertificatePath = getenv("AZURE_CLIENT_CERTIFICATE_PATH")
		t.ClientCertificatePasswordEnv = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	case getenv("AZURE_FEDERATED_TOKEN_FILE") != "":
		t.FederatedTokenFile = getenv("AZURE_FEDERATED_TOKEN_FILE")
	}
	c := &Config{Tenants: []Tenant{t}}
	if errs := c.validate(true); len(errs) > 0 {
		return nil, errs
	}
	c.ApplyDefaults()
	return c, nil
}
