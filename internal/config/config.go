// Package config reads the auditor's YAML configuration: tenants and their credential sources, collection
// settings, the Work 365 storage names, policy data overrides and waivers. It also builds the zero-config
// tenant from the AZURE_* environment variables.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/work365/audit/internal/cloud"
	"github.com/work365/audit/internal/glob"
)

// Config is the whole configuration file.
type Config struct {
	Tenants    []Tenant       `yaml:"tenants"`
	Collect    Collect        `yaml:"collect"`
	Work365    Work365        `yaml:"work365"`
	PolicyData map[string]any `yaml:"policy_data"`
	Waivers    []Waiver       `yaml:"waivers"`
	History    History        `yaml:"history"`
	Notify     []Notify       `yaml:"notify"`

	// Path is the file the configuration came from ("" for the zero-config form).
	Path string `yaml:"-"`
}

// Tenant is one Entra tenant to audit and how to authenticate to it.
type Tenant struct {
	Name     string `yaml:"name"`
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`

	// Secrets are never in the file itself: an environment variable name or a file path.
	ClientSecretEnv              string `yaml:"client_secret_env"`
	ClientSecretFile             string `yaml:"client_secret_file"`
	ClientCertificatePath        string `yaml:"client_certificate_path"`
	ClientCertificatePasswordEnv string `yaml:"client_certificate_password_env"`
	FederatedTokenFile           string `yaml:"federated_token_file"`
	// ManagedIdentity uses the host's managed identity: system-assigned, or the user-assigned one whose client
	// ID ManagedIdentityClientID gives. ClientID stays empty.
	ManagedIdentity         bool   `yaml:"managed_identity"`
	ManagedIdentityClientID string `yaml:"managed_identity_client_id"`
	// DeviceCode signs an administrator in at a terminal; ClientID is then a public client app registration.
	DeviceCode bool `yaml:"device_code"`

	Cloud     string `yaml:"cloud"`     // public (default), gcc, gcchigh, dod, china
	Authority string `yaml:"authority"` // Entra host URL override, e.g. https://127.0.0.1:9443
	BAP       string `yaml:"bap"`       // BAP base URL override
	BAPScope  string `yaml:"bap_scope"` // BAP token scope override

	Environments Filter `yaml:"environments"`

	Line int `yaml:"-"` // where the entry starts in the file
}

// Filter selects environments by name or ID with shell-style globs, case-insensitively.
type Filter struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

// Collect holds collection settings.
type Collect struct {
	Concurrency     int      `yaml:"concurrency"`       // requests in flight across all environments
	PerEnvironment  int      `yaml:"per_environment"`   // requests in flight per environment (Dataverse allows 52)
	PageSize        int      `yaml:"page_size"`         // Prefer: odata.maxpagesize
	Timeout         Duration `yaml:"timeout"`           // per environment
	RequestTimeout  Duration `yaml:"request_timeout"`   // per HTTP request, body included
	MaxAttempts     int      `yaml:"max_attempts"`      // tries of a read answered 429, 5xx or not at all
	RetryDelay      Duration `yaml:"retry_delay"`       // first wait when no Retry-After is given; doubles per try
	MaxRetryWait    Duration `yaml:"max_retry_wait"`    // total wait of one request across its retries
	MaxRetryAfter   Duration `yaml:"max_retry_after"`   // the longest Retry-After honoured; longer stops the environment
	RecentJobs      int      `yaml:"recent_jobs"`       // failed jobs kept as evidence
	JobNamePrefixes []string `yaml:"job_name_prefixes"` // system jobs counted as Work 365's
}

// Work365 names Work 365's storage, which is not public. The solution is looked up by its unique name, then by
// its friendly name or publisher; the settings table's entity set and the lookup's navigation property are read
// from Dataverse's metadata unless given here (configuration wins).
type Work365 struct {
	Solution             string `yaml:"solution"`               // unique name, tried first
	SolutionFriendlyName string `yaml:"solution_friendly_name"` // friendly name, compared case-insensitively
	Publisher            string `yaml:"publisher"`              // publisher unique name; optional
	TablePrefix          string `yaml:"table_prefix"`           // prefix of Work 365's tables, e.g. w365_
	// SettingsTable is the logical (singular) name of the settings table; SettingsEntitySet its entity set,
	// read from metadata when empty.
	SettingsTable     string `yaml:"settings_table"`
	SettingsEntitySet string `yaml:"settings_entity_set"`
	// ServiceUserLookup is the logical name of the service-user lookup column (read as _<name>_value);
	// ServiceUserNavigation the navigation property writes bind through (case-sensitive, usually the lookup's
	// schema name, e.g. w365_ServiceUserId), read from metadata when empty.
	ServiceUserLookup     string `yaml:"service_user_lookup"`
	ServiceUserNavigation string `yaml:"service_user_navigation"`
	ClearCacheAction      string `yaml:"clear_cache_action"`
}

// Waiver accepts a known failure for a while, with a reason and an owner.
type Waiver struct {
	Rule        string `yaml:"rule"`
	Environment string `yaml:"environment"` // ID or name, glob allowed
	Tenant      string `yaml:"tenant"`      // optional tenant name, glob allowed
	Object      string `yaml:"object"`      // optional: the waiver covers only failures naming this object (glob)
	Reason      string `yaml:"reason"`
	Owner       string `yaml:"owner"`
	Ticket      string `yaml:"ticket"`
	Expires     Date   `yaml:"expires"`

	Line int `yaml:"-"`
}

// Defaults applied to zero values.
const (
	DefaultConcurrency     = 128 // requests in flight; docs/performance.md says why
	DefaultPerEnvironment  = 10  // the collector's widest step sends 9 requests at once
	DefaultRequestTimeout  = 2 * time.Minute
	DefaultMaxAttempts     = 6
	DefaultRetryDelay      = 500 * time.Millisecond
	DefaultMaxRetryWait    = 10 * time.Minute
	DefaultMaxRetryAfter   = 5 * time.Minute
	DefaultRecentJobs      = 5
	DefaultTimeout         = 5 * time.Minute
	DefaultSolution        = "Work365"
	DefaultFriendlyName    = "Work 365"
	DefaultTablePrefix     = "w365_"
	DefaultSettingsTable   = "w365_configuration"
	DefaultServiceUserAttr = "w365_serviceuserid"
	DefaultClearCache      = "w365_ClearCache"
	MaxPerEnvironment      = 52 // Dataverse's concurrent-request limit per user and web server
)

// DefaultJobNamePrefixes are the name prefixes of system jobs counted as Work 365's.
var DefaultJobNamePrefixes = []string{"Work 365", "w365"}

// ApplyDefaults fills zero values.
func (c *Config) ApplyDefaults() {
	if c.Collect.Concurrency <= 0 {
		c.Collect.Concurrency = DefaultConcurrency
	}
	if c.Collect.PerEnvironment <= 0 {
		c.Collect.PerEnvironment = DefaultPerEnvironment
	}
	if c.Collect.RequestTimeout <= 0 {
		c.Collect.RequestTimeout = Duration(DefaultRequestTimeout)
	}
	if c.Collect.MaxAttempts <= 0 {
		c.Collect.MaxAttempts = DefaultMaxAttempts
	}
	if c.Collect.RetryDelay <= 0 {
		c.Collect.RetryDelay = Duration(DefaultRetryDelay)
	}
	if c.Collect.MaxRetryAfter <= 0 {
		c.Collect.MaxRetryAfter = Duration(DefaultMaxRetryAfter)
	}
	if c.Collect.MaxRetryWait <= 0 {
		c.Collect.MaxRetryWait = Duration(max(DefaultMaxRetryWait, 2*time.Duration(c.Collect.MaxRetryAfter)))
	}
	if c.Collect.RecentJobs <= 0 {
		c.Collect.RecentJobs = DefaultRecentJobs
	}
	if c.Collect.Timeout <= 0 {
		c.Collect.Timeout = Duration(DefaultTimeout)
	}
	if len(c.Collect.JobNamePrefixes) == 0 {
		c.Collect.JobNamePrefixes = DefaultJobNamePrefixes
	}
	if c.Work365.Solution == "" {
		c.Work365.Solution = DefaultSolution
	}
	if c.Work365.SolutionFriendlyName == "" {
		c.Work365.SolutionFriendlyName = DefaultFriendlyName
	}
	if c.Work365.TablePrefix == "" {
		c.Work365.TablePrefix = DefaultTablePrefix
	}
	if c.Work365.SettingsTable == "" {
		c.Work365.SettingsTable = DefaultSettingsTable
	}
	if c.Work365.ServiceUserLookup == "" {
		c.Work365.ServiceUserLookup = DefaultServiceUserAttr
	}
	if c.Work365.ClearCacheAction == "" {
		c.Work365.ClearCacheAction = DefaultClearCache
	}
}

// Error is a configuration problem, with the file and line where it is.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Path != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	case e.Path != "":
		return e.Path + ": " + e.Msg
	default:
		return e.Msg
	}
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot read the config file: %v", err)}
	}
	return Parse(data, path)
}

// LoadSettings reads a configuration file that may have no tenants: enough for offline evaluation
// (policy data, waivers) and for the demo, whose tenants come from fixtures.
func LoadSettings(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot read the config file: %v", err)}
	}
	return ParseSettings(data, path)
}

// ParseSettings reads configuration YAML that may have no tenants, as LoadSettings does.
func ParseSettings(data []byte, path string) (*Config, error) {
	return parse(data, path, false)
}

// Parse reads and validates configuration YAML; path names it in errors and anchors relative file paths.
func Parse(data []byte, path string) (*Config, error) {
	return parse(data, path, true)
}

func parse(data []byte, path string, requireTenants bool) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			if !requireTenants {
				c.Path = path
				c.ApplyDefaults()
				return &c, nil
			}
			return nil, &Error{Path: path, Msg: "the config file is empty: it needs at least a tenants list"}
		}
		return nil, yamlError(path, err)
	}
	c.Path = path
	c.recordLines(data)
	if errs := c.validate(requireTenants); len(errs) > 0 {
		return nil, errs
	}
	c.ApplyDefaults()
	return &c, nil
}

// yamlError reshapes yaml.v3's errors into path:line: message.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs Errors
		for _, m := range te.Errors {
			errs = append(errs, lineError(path, m))
		}
		return errs
	}
	return lineError(path, err.Error())
}

var (
	linePrefix   = regexp.MustCompile(`^line (\d+): (.*)`)
	unknownField = regexp.MustCompile(`field (\S+) not found in type config\.(\w+)`)
)

func lineError(path, msg string) *Error {
	msg = strings.TrimPrefix(msg, "yaml: ")
	var line int
	if m := linePrefix.FindStringSubmatch(msg); m != nil {
		fmt.Sscanf(m[1], "%d", &line)
		msg = m[2]
	}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown key %q in %s", m[1], sectionName(m[2]))
		if hint := renamedKeys[m[2]+"."+m[1]]; hint != "" {
			msg += ": " + hint
		}
	}
	return &Error{Path: path, Line: line, Msg: msg}
}

// renamedKeys says what became of keys that earlier versions read.
var renamedKeys = map[string]string{
	"Work365.service_user_attribute": "it is now service_user_lookup (the lookup's logical name, read as _<name>_value); " +
		"writes bind through the lookup's navigation property, which is read from Dataverse's metadata or set with service_user_navigation",
}

func sectionName(goType string) string {
	switch goType {
	case "Config":
		return "the top level (known: tenants, collect, work365, policy_data, waivers, history, notify)"
	case "Tenant":
		return "a tenant"
	case "Filter":
		return "environments (known: include, exclude)"
	case "Collect":
		return "collect"
	case "Work365":
		return "work365"
	case "History", "Notify":
		return notifySection(goType)
	case "Waiver":
		return "a waiver"
	}
	return goType
}

// recordLines notes where each tenant and waiver starts, for error messages. It reads the document a second
// time as nodes because custom unmarshalers would lose the decoder's unknown-key check.
func (c *Config) recordLines(data []byte) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		if key == "history" {
			c.History.Line = root.Content[i].Line
		}
		if val.Kind != yaml.SequenceNode {
			continue
		}
		for j, item := range val.Content {
			switch {
			case key == "tenants" && j < len(c.Tenants):
				c.Tenants[j].Line = item.Line
			case key == "waivers" && j < len(c.Waivers):
				c.Waivers[j].Line = item.Line
			case key == "notify" && j < len(c.Notify):
				c.Notify[j].Line = item.Line
			}
		}
	}
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in its usual 8-4-4-4-12 form.
func IsGUID(s string) bool { return guidPattern.MatchString(s) }

func (c *Config) validate(requireTenants bool) Errors {
	var errs Errors
	add := func(line int, format string, args ...any) {
		errs = append(errs, &Error{Path: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if len(c.Tenants) == 0 && requireTenants {
		add(0, "no tenants: add a tenants list (see the README's Configuration section)")
	}
	if _, old := c.PolicyData["production_types"]; old {
		add(0, "policy_data.production_types was replaced by non_production_types: every environment type not listed there is production "+
			"(Default, an empty type and unknown types included); list the types that are not production instead (default: Sandbox, Developer, Trial)")
	}
	names := map[string]int{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Name == "" {
			add(t.Line, "tenant %d has no name", i+1)
		} else if prev, dup := names[t.Name]; dup {
			add(t.Line, "tenant name %q is used twice (first at line %d)", t.Name, prev)
		} else {
			names[t.Name] = t.Line
		}
		if !IsGUID(t.TenantID) {
			add(t.Line, "tenant %q: tenant_id %q is not a GUID (the Directory ID of the Entra tenant)", t.Name, t.TenantID)
		}
		switch {
		case t.ManagedIdentity && t.ClientID != "":
			add(t.Line, "tenant %q: client_id is not used with managed_identity: name a user-assigned identity with managed_identity_client_id, or leave both out for the system-assigned identity", t.Name)
		case !t.ManagedIdentity && !IsGUID(t.ClientID):
			add(t.Line, "tenant %q: client_id %q is not a GUID (the Application (client) ID of the auditor's app registration)", t.Name, t.ClientID)
		}
		switch {
		case t.ManagedIdentityClientID != "" && !t.ManagedIdentity:
			add(t.Line, "tenant %q: managed_identity_client_id needs managed_identity: true", t.Name)
		case t.ManagedIdentityClientID != "" && !IsGUID(t.ManagedIdentityClientID):
			add(t.Line, "tenant %q: managed_identity_client_id %q is not a GUID (the Client ID of the user-assigned managed identity)", t.Name, t.ManagedIdentityClientID)
		}
		creds := 0
		for _, set := range []bool{t.ClientSecretEnv != "", t.ClientSecretFile != "", t.ClientCertificatePath != "", t.FederatedTokenFile != "", t.ManagedIdentity, t.DeviceCode} {
			if set {
				creds++
			}
		}
		switch {
		case creds == 0:
			add(t.Line, "tenant %q has no credential: set client_secret_env, client_secret_file, client_certificate_path, federated_token_file, managed_identity or device_code", t.Name)
		case creds > 1:
			add(t.Line, "tenant %q has more than one credential: keep exactly one of client_secret_env, client_secret_file, client_certificate_path, federated_token_file, managed_identity, device_code", t.Name)
		}
		for _, p := range []struct{ key, path string }{
			{"client_secret_file", t.ClientSecretFile},
			{"client_certificate_path", t.ClientCertificatePath},
		} {
			if p.path == "" {
				continue
			}
			if err := readable(c.resolve(p.path)); err != nil {
				add(t.Line, "tenant %q: %s: %v", t.Name, p.key, err)
			}
		}
		if t.Cloud != "" {
			if _, err := cloud.Lookup(t.Cloud); err != nil {
				add(t.Line, "tenant %q: %v", t.Name, err)
			}
		}
		for _, u := range []struct{ key, val string }{{"authority", t.Authority}, {"bap", t.BAP}} {
			if u.val != "" && !strings.HasPrefix(u.val, "https://") {
				add(t.Line, "tenant %q: %s %q must be an https URL (TLS verification is never turned off; trust a private CA with SSL_CERT_FILE)", t.Name, u.key, u.val)
			}
		}
		for _, g := range append(append([]string{}, t.Environments.Include...), t.Environments.Exclude...) {
			if err := glob.Valid(g); err != nil {
				add(t.Line, "tenant %q: environment pattern %q is not a valid glob: %v", t.Name, g, err)
			}
		}
	}
	if c.Collect.MaxRetryAfter > 0 && c.Collect.MaxRetryWait > 0 && c.Collect.MaxRetryWait < c.Collect.MaxRetryAfter {
		add(0, "collect.max_retry_wait (%s) is shorter than collect.max_retry_after (%s): a request could then never wait as long as the ceiling allows; raise max_retry_wait", time.Duration(c.Collect.MaxRetryWait), time.Duration(c.Collect.MaxRetryAfter))
	}
	if c.Collect.PerEnvironment > MaxPerEnvironment {
		add(0, "collect.per_environment is %d: Dataverse allows at most %d concurrent requests per user, more would only be throttled", c.Collect.PerEnvironment, MaxPerEnvironment)
	}
	for i, w := range c.Waivers {
		if w.Rule == "" {
			add(w.Line, "waiver %d has no rule", i+1)
		}
		if w.Environment == "" {
			add(w.Line, "waiver %d has no environment (an ID or name; a glob such as \"*\" is allowed)", i+1)
		}
		if w.Reason == "" || w.Owner == "" {
			add(w.Line, "waiver %d needs a reason and an owner", i+1)
		}
		if w.Expires.IsZero() {
			add(w.Line, "waiver %d needs an expires date (YYYY-MM-DD): waivers without an end are how exceptions rot", i+1)
		}
		for _, g := range []string{w.Rule, w.Environment, w.Tenant, w.Object} {
			if err := glob.Valid(g); err != nil {
				add(w.Line, "waiver %d: pattern %q is not a valid glob: %v", i+1, g, err)
			}
		}
	}
	c.validateNotify(add)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

func readable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", p, errors.Unwrap(err))
	}
	return f.Close()
}

// resolve makes a path from the file relative to the file's directory.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// Match reports whether an environment (by name or ID) passes the filter.
func (f Filter) Match(name, id string) bool {
	include := len(f.Include) == 0
	for _, g := range f.Include {
		if Glob(g, name) || Glob(g, id) {
			include = true
			break
		}
	}
	if !include {
		return false
	}
	for _, g := range f.Exclude {
		if Glob(g, name) || Glob(g, id) {
			return false
		}
	}
	return true
}

// Glob matches s against a shell-style pattern (internal/glob): case-insensitively, "*" across any
// characters, "/" included.
func Glob(pattern, s string) bool { return glob.Match(pattern, s) }
