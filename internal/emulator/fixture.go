package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Fixture is the in-memory form of a tenant fixture: one Entra tenant, the app registrations that can get
// tokens, the service principals of the directory and the Power Platform environments with their Dataverse data.
type Fixture struct {
	Tenant            TenantInfo         `yaml:"tenant"`
	Clients           []Client           `yaml:"clients"`
	ServicePrincipals []ServicePrincipal `yaml:"service_principals"`
	Environments      []Environment      `yaml:"environments"`
	// BAP holds the faults of the tenant-level environment list (YAML: bap.faults).
	BAP Faults `yaml:"-"`
}

// TenantInfo identifies the Entra tenant.
type TenantInfo struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Domain string `yaml:"domain"`
}

// Client is an app registration that can get tokens from the emulated Entra (the auditor itself).
type Client struct {
	Name      string `yaml:"name"`
	ClientID  string `yaml:"client_id"`
	Secret    string `yaml:"secret"`
	SecretEnv string `yaml:"secret_env"`
	// Certificates are PEM certificate files; relative paths resolve against the fixture's directory.
	Certificates []string `yaml:"certificates"`
	// CertificatePEMs are PEM certificates given directly; LoadFixture fills it from Certificates.
	CertificatePEMs  [][]byte          `yaml:"-"`
	FederatedIssuers []FederatedIssuer `yaml:"federated_issuers"`
	// AdminManagementApp tells whether the app is registered as a Power Platform admin management
	// application; nil means true.
	AdminManagementApp *bool `yaml:"admin_management_app"`
	// ManagedIdentity makes the client a managed identity the identity endpoint issues tokens for: the first
	// such client is the system-assigned identity, every one can be asked for by its client ID.
	ManagedIdentity bool `yaml:"managed_identity"`
	// PublicClient allows public client flows (Entra's "Allow public client flows"): the device code flow
	// and refresh tokens without a client credential.
	PublicClient bool `yaml:"public_client"`
}

// FederatedIssuer is a workload identity federation trust: assertions from Issuer about Subject, signed by Key.
type FederatedIssuer struct {
	Issuer  string `yaml:"issuer"`
	Subject string `yaml:"subject"`
	// Key is a PEM file holding an RSA public key or a certificate.
	Key string `yaml:"key"`
	// KeyPEM is the PEM content given directly; LoadFixture fills it from Key.
	KeyPEM []byte `yaml:"-"`
}

// ServicePrincipal is an enterprise application present in the tenant's directory.
type ServicePrincipal struct {
	AppID string `yaml:"app_id"`
	Name  string `yaml:"name"`
}

// Environment is one Power Platform environment, with or without Dataverse.
type Environment struct {
	Name        string     `yaml:"name"`
	ID          string     `yaml:"id"`
	SKU         string     `yaml:"sku"`
	Location    string     `yaml:"location"`
	AzureRegion string     `yaml:"azure_region"`
	State       string     `yaml:"state"`
	Access      string     `yaml:"access"`
	Faults      Faults     `yaml:"faults"`
	Dataverse   *Dataverse `yaml:"dataverse"`
}

// Dataverse is the content of an environment's Dataverse organization.
type Dataverse struct {
	Domain               string                `yaml:"domain"`
	Version              string                `yaml:"version"`
	BusinessUnits        []BusinessUnit        `yaml:"business_units"`
	Roles                []string              `yaml:"roles"`
	Users                []User                `yaml:"users"`
	Publishers           []Publisher           `yaml:"publishers"`
	Solutions            []Solution            `yaml:"solutions"`
	Work365              *Work365              `yaml:"work365"`
	AsyncOperations      []AsyncOperation      `yaml:"async_operations"`
	Workflows            []Workflow            `yaml:"workflows"`
	ConnectionReferences []ConnectionReference `yaml:"connection_references"`
	Templates            []Template            `yaml:"templates"`
	CustomTables         []CustomTable         `yaml:"custom_tables"`
	Teams                []Team                `yaml:"teams"`
	OrgSettings          OrgSettings           `yaml:"org_settings"`
}

// OrgSettings are the organization settings (OrgDBOrgSettings) that change what the Web API allows.
type OrgSettings struct {
	// AllowRoleAssignmentOnDisabledUsers lets security roles be assigned to disabled users
	// (allowRoleAssignmentOnDisabledUsers; off by default, as in Dataverse).
	AllowRoleAssignmentOnDisabledUsers bool `yaml:"allow_role_assignment_on_disabled_users"`
}

// Team is a team of a business unit. Every business unit also has its default team (an owner team named after
// it, whose members are all the unit's users); an entry with Default gives that team roles.
type Team struct {
	Name string `yaml:"name"`
	// Type is the teamtype: 0 owner (default), 1 access, 2 Microsoft Entra security group, 3 Entra Office group.
	Type int `yaml:"type"`
	// BusinessUnit defaults to the root business unit.
	BusinessUnit string `yaml:"business_unit"`
	// Roles are role names, resolved in the team's business unit; access teams cannot hold roles.
	Roles []string `yaml:"roles"`
	// Members are user keys.
	Members []string `yaml:"members"`
	// ObjectID is the Entra group of a group team (types 2 and 3); default: derived from the name.
	ObjectID string `yaml:"azureactivedirectoryobjectid"`
	// Default selects the business unit's default team, to give it roles; it takes neither members nor a type.
	Default bool `yaml:"default"`
}

// CustomTable is a custom table known to the metadata (EntityDefinitions, IsCustomEntity true), such as one of
// Work 365's own tables. Its entity set answers, without rows.
type CustomTable struct {
	// LogicalName is lowercase with its publisher prefix, e.g. w365_invoice.
	LogicalName string `yaml:"logical_name"`
	// EntitySet defaults to LogicalName + "s".
	EntitySet string `yaml:"entity_set"`
	// SchemaName defaults to the prefix and the capitalised rest, e.g. w365_Invoice.
	SchemaName string `yaml:"schema_name"`
}

func (c CustomTable) names() (logical, set, schemaName string) {
	logical, set, schemaName = c.LogicalName, c.EntitySet, c.SchemaName
	if set == "" {
		set = logical + "s"
	}
	if schemaName == "" {
		schemaName = customSchemaName(logical)
	}
	return logical, set, schemaName
}

// BusinessUnit is a Dataverse business unit; the first one listed is the root.
type BusinessUnit struct {
	Name   string `yaml:"name"`
	Parent string `yaml:"parent"`
}

// User is a Dataverse systemuser row: a person, or an application user when ApplicationID is set.
type User struct {
	Key                  string   `yaml:"key"`
	ID                   string   `yaml:"id"`
	FullName             string   `yaml:"fullname"`
	DomainName           string   `yaml:"domainname"`
	InternalEmailAddress string   `yaml:"internalemailaddress"`
	ApplicationID        string   `yaml:"applicationid"`
	ObjectID             string   `yaml:"azureactivedirectoryobjectid"`
	AccessMode           *int     `yaml:"accessmode"`
	IsDisabled           bool     `yaml:"isdisabled"`
	IsLicensed           *bool    `yaml:"islicensed"`
	DeletedState         int      `yaml:"deletedstate"`
	BusinessUnit         string   `yaml:"business_unit"`
	Roles                []string `yaml:"roles"`
	Created              string   `yaml:"created"`
}

// Solution is a row of the solutions table.
type Solution struct {
	UniqueName   string `yaml:"uniquename"`
	FriendlyName string `yaml:"friendlyname"`
	Version      string `yaml:"version"`
	IsManaged    bool   `yaml:"ismanaged"`
	InstalledOn  string `yaml:"installedon"`
	// Publisher is a publisher's uniquename; default the organization's default publisher.
	Publisher string `yaml:"publisher"`
}

// Publisher is a row of the publishers table. Every organization also has its default publisher
// (uniquename DefaultPublisher<domain>, prefix new).
type Publisher struct {
	UniqueName   string `yaml:"uniquename"`
	FriendlyName string `yaml:"friendlyname"` // default: the unique name
	Prefix       string `yaml:"prefix"`       // customizationprefix
}

// defaultPublisher is the publisher every organization has.
func defaultPublisher(domain string) Publisher {
	return Publisher{UniqueName: "DefaultPublisher" + domain, FriendlyName: "Default Publisher for " + domain, Prefix: "new"}
}

// Work365 describes Work 365's settings storage in an environment; its presence creates the settings table.
// Its names are not public, so each is a fixture choice with the product's defaults.
type Work365 struct {
	// ServiceUser is the user key the setting points to: nil means no settings row, "" a row with an empty lookup.
	ServiceUser *string `yaml:"service_user"`
	// SettingsTable is the settings table's logical name; default w365_configuration. Its key column is
	// <SettingsTable>id.
	SettingsTable string `yaml:"settings_table"`
	// SettingsEntitySet is the table's entity set; default SettingsTable + "s".
	SettingsEntitySet string `yaml:"settings_entity_set"`
	// ServiceUserLookup is the lookup column's logical name (read as _<lookup>_value); default w365_serviceuserid.
	ServiceUserLookup string `yaml:"service_user_lookup"`
	// ServiceUserNavigation is the lookup's single-valued navigation property, the only name a bind, an
	// $expand or a $ref accepts (case-sensitive); default w365_ServiceUserId, required with another lookup.
	ServiceUserNavigation string `yaml:"service_user_navigation"`
	// ClearCacheAction is the unbound action's name: nil means the default, "" that the action does not exist.
	ClearCacheAction *string `yaml:"clear_cache_action"`
	// ModifiedBy is the user key of who last changed the settings row (its modifiedby); default SYSTEM. Changes
	// through the Web API set it to their caller.
	ModifiedBy string `yaml:"modified_by"`
	// Modified is when the settings row last changed (its modifiedon): RFC 3339, a date, or relative to Now such
	// as -30d; default one year before Now, when the row was created.
	Modified string `yaml:"modified"`
}

// Defaults of the Work 365 settings storage (the product's defaults; the real names are not public).
const (
	DefaultSettingsTable         = "w365_configuration"
	DefaultServiceUserLookup     = "w365_serviceuserid"
	DefaultServiceUserNavigation = "w365_ServiceUserId"
	DefaultClearCacheAction      = "w365_ClearCache"
)

// work365Names are the resolved names of Work 365's storage in one environment.
type work365Names struct {
	logical, set, lookup, nav, clearCache string
}

func (w *Work365) names() work365Names {
	n := work365Names{logical: w.SettingsTable, set: w.SettingsEntitySet, lookup: w.ServiceUserLookup, nav: w.ServiceUserNavigation, clearCache: DefaultClearCacheAction}
	if n.logical == "" {
		n.logical = DefaultSettingsTable
	}
	if n.set == "" {
		n.set = n.logical + "s"
	}
	if n.lookup == "" {
		n.lookup = DefaultServiceUserLookup
	}
	if n.nav == "" && n.lookup == DefaultServiceUserLookup {
		n.nav = DefaultServiceUserNavigation
	}
	if w.ClearCacheAction != nil {
		n.clearCache = *w.ClearCacheAction
	}
	return n
}

// AsyncOperation is a system job (asyncoperations row).
type AsyncOperation struct {
	Name            string `yaml:"name"`
	OperationType   int    `yaml:"operationtype"`
	StateCode       int    `yaml:"statecode"`
	StatusCode      int    `yaml:"statuscode"`
	Message         string `yaml:"message"`
	FriendlyMessage string `yaml:"friendlymessage"`
	ErrorCode       int    `yaml:"errorcode"`
	Created         string `yaml:"created"`
	Completed       string `yaml:"completed"`
	Owner           string `yaml:"owner"`
}

// Workflow is a workflows row (category 5 is a cloud flow).
type Workflow struct {
	Name      string `yaml:"name"`
	Category  int    `yaml:"category"`
	StateCode int    `yaml:"statecode"`
	Type      int    `yaml:"type"`
	Owner     string `yaml:"owner"`
}

// ConnectionReference is a connectionreferences row.
type ConnectionReference struct {
	LogicalName  string `yaml:"logicalname"`
	DisplayName  string `yaml:"displayname"`
	ConnectorID  string `yaml:"connectorid"`
	ConnectionID string `yaml:"connectionid"`
	StateCode    int    `yaml:"statecode"`
	Owner        string `yaml:"owner"`
}

// Template is an email template (templates row).
type Template struct {
	Title            string `yaml:"title"`
	TemplateTypeCode string `yaml:"templatetypecode"`
	IsPersonal       bool   `yaml:"ispersonal"`
	Owner            string `yaml:"owner"`
}

// fixtureDoc is the YAML document layout, which nests the BAP faults one level deeper than Fixture does.
type fixtureDoc struct {
	Tenant            TenantInfo         `yaml:"tenant"`
	Clients           []Client           `yaml:"clients"`
	ServicePrincipals []ServicePrincipal `yaml:"service_principals"`
	BAP               struct {
		Faults Faults `yaml:"faults"`
	} `yaml:"bap"`
	Environments []Environment `yaml:"environments"`
}

// LoadFixture reads a YAML tenant fixture; relative file paths inside it resolve against the file's directory.
func LoadFixture(path string) (*Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	f, err := ParseFixture(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load fixture %s: %w", path, err)
	}
	return f, nil
}

// ParseFixture decodes a YAML tenant fixture; unknown keys and dangling references are errors naming the line.
func ParseFixture(data []byte, baseDir string) (*Fixture, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse fixture: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fixtureDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("parse fixture: empty document")
		}
		return nil, fmt.Errorf("parse fixture: %w", err)
	}
	f := &Fixture{
		Tenant:            doc.Tenant,
		Clients:           doc.Clients,
		ServicePrincipals: doc.ServicePrincipals,
		Environments:      doc.Environments,
		BAP:               doc.BAP.Faults,
	}
	at := func(path ...any) int {
		if n := nodeAt(&root, path...); n != nil {
			return n.Line
		}
		return 0
	}
	applyExplicitNulls(f, &root)
	if err := f.readFiles(baseDir, at); err != nil {
		return nil, err
	}
	if err := f.validate(at); err != nil {
		return nil, err
	}
	return f, nil
}

// applyExplicitNulls distinguishes "service_user: null" (a settings row with an empty lookup) and
// "clear_cache_action: null" (no action) from an omitted key, which the YAML decoder cannot do by itself.
func applyExplicitNulls(f *Fixture, root *yaml.Node) {
	for i := range f.Environments {
		dv := f.Environments[i].Dataverse
		if dv == nil || dv.Work365 == nil {
			continue
		}
		w := nodeAt(root, "environments", i, "dataverse", "work365")
		if n := mappingValue(w, "service_user"); n != nil && n.Tag == "!!null" {
			empty := ""
			dv.Work365.ServiceUser = &empty
		}
		if n := mappingValue(w, "clear_cache_action"); n != nil && n.Tag == "!!null" {
			empty := ""
			dv.Work365.ClearCacheAction = &empty
		}
	}
}

// readFiles loads the certificate and key files a fixture names, so that a loaded fixture no longer depends on
// the working directory.
func (f *Fixture) readFiles(baseDir string, at locator) error {
	resolve := func(p string) string {
		if filepath.IsAbs(p) || baseDir == "" {
			return p
		}
		return filepath.Join(baseDir, p)
	}
	for i := range f.Clients {
		c := &f.Clients[i]
		for j, p := range c.Certificates {
			c.Certificates[j] = resolve(p)
			data, err := os.ReadFile(c.Certificates[j])
			if err != nil {
				return fmt.Errorf("client %q: certificate%s: %w", c.Name, lineSuffix(at("clients", i, "certificates", j)), err)
			}
			c.CertificatePEMs = append(c.CertificatePEMs, data)
		}
		for j := range c.FederatedIssuers {
			fi := &c.FederatedIssuers[j]
			if fi.Key == "" {
				continue
			}
			fi.Key = resolve(fi.Key)
			data, err := os.ReadFile(fi.Key)
			if err != nil {
				return fmt.Errorf("client %q: federated issuer key%s: %w", c.Name, lineSuffix(at("clients", i, "federated_issuers", j, "key")), err)
			}
			fi.KeyPEM = data
		}
		if c.SecretEnv != "" && c.Secret == "" {
			v, ok := os.LookupEnv(c.SecretEnv)
			if !ok {
				return fmt.Errorf("client %q: secret_env %s is not set%s", c.Name, c.SecretEnv, lineSuffix(at("clients", i, "secret_env")))
			}
			c.Secret = v
		}
	}
	return nil
}

// locator returns the YAML line of a path in the document, or 0 when unknown (fixtures built in Go).
type locator func(path ...any) int

func lineSuffix(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

// nodeAt walks a decoded YAML tree by mapping keys (string) and sequence indexes (int).
func nodeAt(n *yaml.Node, path ...any) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch k := p.(type) {
		case string:
			n = mappingValue(n, k)
		case int:
			if n.Kind != yaml.SequenceNode || k < 0 || k >= len(n.Content) {
				return nil
			}
			n = n.Content[k]
		}
	}
	return n
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// parseFixtureTime reads an absolute RFC 3339 time (or a date) or a duration relative to now such as "-36h" or "-10d".
func parseFixtureTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseRelativeDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is neither RFC 3339 nor a relative duration like -36h or -10d", s)
	}
	return now.Add(d).UTC(), nil
}

// parseRelativeDuration extends time.ParseDuration with a leading day count ("-10d", "1d12h").
func parseRelativeDuration(s string) (time.Duration, error) {
	sign := time.Duration(1)
	rest := s
	if strings.HasPrefix(rest, "-") {
		sign, rest = -1, rest[1:]
	} else if strings.HasPrefix(rest, "+") {
		rest = rest[1:]
	}
	var total time.Duration
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, err
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		if d < 0 {
			return 0, errors.New("sign inside a duration")
		}
		total += d
	} else if total == 0 {
		return 0, errors.New("empty duration")
	}
	return sign * total, nil
}
