// Package snapshot defines the versioned snapshot: everything the collectors read from the tenants,
// and the complete input of evaluation. It can be saved, evaluated offline and diffed.
package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"
)

// SchemaVersion is the version of the snapshot format this build writes. It reads every earlier version too: see
// migrate. A version adds fields as well as changing them, because Decode refuses fields it does not know: a new
// field read by an older build should say "upgrade audit", not fail on an unknown name.
//
// Version 2: roles held through teams (Role.Team), Work 365's schema as discovered per environment
// (Dataverse.Schema), how the solution was found (Solution.MatchedBy, Tried), owners' Entra object IDs, and the
// split of the settings names into logical names and configured overrides (Settings).
//
// Version 3: when the service-user setting last changed and who changed it (ServiceUser.SettingModifiedOn,
// SettingModifiedBy), for the audit record. Both are optional: a version 2 snapshot reads as version 3 without them.
const SchemaVersion = 3

// Collection statuses of an environment.
const (
	StatusOK      = "ok"      // everything the rules need was read
	StatusError   = "error"   // something could not be read; rules report error, fixes never touch it
	StatusSkipped = "skipped" // deliberately not read (no Dataverse, environment disabled)
)

// Snapshot is the complete, versioned input of evaluation.
type Snapshot struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          Tool      `json:"tool"`
	CollectedAt   time.Time `json:"collected_at"`
	Settings      Settings  `json:"settings"`
	Tenants       []Tenant  `json:"tenants"`
}

// Tool names the program that wrote the snapshot.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Settings records the collection settings that shaped the snapshot, so that an offline evaluation
// knows what was looked for.
type Settings struct {
	SolutionName         string            `json:"solution_name"`
	SolutionFriendlyName string            `json:"solution_friendly_name,omitempty"`
	Publisher            string            `json:"publisher,omitempty"`
	TablePrefix          string            `json:"table_prefix,omitempty"`
	AppIDs               map[string]string `json:"app_ids"` // Work 365 App ID by data-centre geo (US, EU, …)
	RoleNames            []string          `json:"role_names"`
	LookbackDays         int               `json:"lookback_days"`
	// SettingsTable and ServiceUserLookup are logical names; SettingsEntitySet and ServiceUserNavigation are
	// configured overrides of what is otherwise read from each environment's metadata (Dataverse.Schema).
	SettingsTable         string `json:"settings_table"`
	SettingsEntitySet     string `json:"settings_entity_set,omitempty"`
	ServiceUserLookup     string `json:"service_user_lookup"`
	ServiceUserNavigation string `json:"service_user_navigation,omitempty"`
}

// Tenant is one Entra tenant and the environments BAP listed for it.
type Tenant struct {
	Name         string        `json:"name"`
	ID           string        `json:"id"`
	Cloud        string        `json:"cloud,omitempty"`
	Error        *Error        `json:"error,omitempty"` // the environment list itself could not be read
	Environments []Environment `json:"environments"`
}

// Environment is one Power Platform environment and what was read from its Dataverse organization.
type Environment struct {
	ID               string     `json:"id"` // the environment GUID (BAP "name")
	Name             string     `json:"name"`
	Type             string     `json:"type"`   // environmentSku: Production, Sandbox, Trial, Developer, Default, Teams
	Region           string     `json:"region"` // BAP "location" geo: unitedstates, europe, …
	AzureRegion      string     `json:"azure_region,omitempty"`
	State            string     `json:"state,omitempty"` // runtime state: Enabled, Disabled, …
	InstanceURL      string     `json:"instance_url,omitempty"`
	DataverseVersion string     `json:"dataverse_version,omitempty"`
	HasDataverse     bool       `json:"has_dataverse"`
	Status           string     `json:"status"`
	SkipReason       string     `json:"skip_reason,omitempty"`
	Error            *Error     `json:"error,omitempty"`
	Dataverse        *Dataverse `json:"dataverse,omitempty"`
}

// Error describes why something could not be collected.
type Error struct {
	Stage      string `json:"stage"` // what was being read: environments, systemusers, solutions, …
	Message    string `json:"message"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Code       string `json:"code,omitempty"` // Dataverse or Entra error code
}

func (e *Error) Error() string { return e.Stage + ": " + e.Message }

// Dataverse is what the collectors read from one Dataverse organization.
type Dataverse struct {
	OrganizationID   string        `json:"organization_id,omitempty"`
	Auditor          *Reference    `json:"auditor,omitempty"` // the auditor's own user (WhoAmI)
	RootBusinessUnit *BusinessUnit `json:"root_business_unit,omitempty"`
	Work365          Solution      `json:"work365"`
	// Schema is where this environment keeps Work 365's service-user setting; nil where Work 365 is not installed.
	Schema *Schema `json:"schema,omitempty"`
	// ApplicationUsers are the users whose applicationid is one of the Work 365 App IDs,
	// soft-deleted ones included.
	ApplicationUsers     []User                `json:"application_users"`
	ServiceUser          ServiceUser           `json:"service_user"`
	ServiceRoleHolders   []User                `json:"service_role_holders"` // people (not application users) holding a Work 365 role
	FailedJobs           FailedJobs            `json:"failed_jobs"`
	Flows                []Flow                `json:"flows"`                 // cloud flows owned by a flagged owner
	ConnectionReferences []ConnectionReference `json:"connection_references"` // owned by a flagged owner
	EmailTemplates       []EmailTemplate       `json:"email_templates"`       // owned by a flagged owner
}

// Reference is a minimal pointer to a Dataverse row.
type Reference struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// BusinessUnit is a Dataverse business unit.
type BusinessUnit struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Solution is the Work 365 solution as installed, or Installed false.
type Solution struct {
	Installed    bool   `json:"installed"`
	UniqueName   string `json:"unique_name,omitempty"`
	FriendlyName string `json:"friendly_name,omitempty"`
	Version      string `json:"version,omitempty"`
	Managed      bool   `json:"managed,omitempty"`
	InstalledOn  string `json:"installed_on,omitempty"`
	Publisher    string `json:"publisher,omitempty"` // the publisher's unique name
	// MatchedBy says how the solution was found: MatchUniqueName, MatchFriendlyName or MatchPublisher.
	MatchedBy string `json:"matched_by,omitempty"`
	// Tried lists what was looked for, in order ("unique name \"Work365\"", …).
	Tried []string `json:"tried,omitempty"`
}

// How the Work 365 solution was found.
const (
	MatchUniqueName   = "unique_name"
	MatchFriendlyName = "friendly_name"
	MatchPublisher    = "publisher"
)

// Schema is where an environment keeps Work 365's service-user setting: the settings table and its lookup,
// with the names Dataverse's metadata gave (or the configuration set).
type Schema struct {
	SettingsTable string `json:"settings_table"` // logical name
	EntitySet     string `json:"entity_set"`
	PrimaryID     string `json:"primary_id"` // the key column
	Lookup        string `json:"lookup"`     // the lookup's logical name; its value is read as _<lookup>_value
	Navigation    string `json:"navigation"` // the navigation property writes bind through (case-sensitive)
	// Source says where the names came from: "metadata", "configuration", or "metadata and configuration".
	Source string `json:"source"`
}

// ValueColumn is the read-only column that holds the lookup's value, e.g. "_w365_serviceuserid_value".
func (s *Schema) ValueColumn() string { return "_" + s.Lookup + "_value" }

// Access modes of systemusers.accessmode. Non-interactive is used by application users, and also by ordinary
// Entra user accounts, so it does not tell an application user from a person: ApplicationID does.
const (
	AccessModeReadWrite      = 0
	AccessModeNonInteractive = 4
)

// User is a Dataverse systemuser with what the rules need to know about it.
type User struct {
	ID            string        `json:"id"`
	FullName      string        `json:"full_name"`
	DomainName    string        `json:"domain_name,omitempty"` // the UPN for people
	Email         string        `json:"email,omitempty"`
	ApplicationID string        `json:"application_id,omitempty"` // Entra client ID; empty for people
	AccessMode    int           `json:"access_mode"`
	Disabled      bool          `json:"is_disabled"`
	Licensed      bool          `json:"is_licensed"`
	DeletedState  int           `json:"deleted_state"` // 0 not deleted, 1 soft-deleted
	BusinessUnit  *BusinessUnit `json:"business_unit,omitempty"`
	Roles         []Role        `json:"roles"`
}

// IsApplication reports whether the user is an application user (a service principal): a systemusers row with
// an application ID. Access mode 4 alone does not make one (Microsoft uses it for non-interactive people too).
func (u User) IsApplication() bool { return u.ApplicationID != "" }

// Role is a security role held by a user: directly, or as a member of Team. Roles exist once per business unit.
type Role struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	BusinessUnitID string `json:"business_unit_id"`
	Team           *Team  `json:"team,omitempty"`
}

// Team is a Dataverse team through which a user holds a role.
type Team struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Type           int    `json:"type"` // TeamOwner, TeamAccess, TeamEntraSecurityGroup, TeamEntraOfficeGroup
	BusinessUnitID string `json:"business_unit_id,omitempty"`
}

// Team types (team.teamtype). Access teams hold no roles.
const (
	TeamOwner              = 0
	TeamAccess             = 1
	TeamEntraSecurityGroup = 2
	TeamEntraOfficeGroup   = 3
)

// ServiceUser is the Work 365 service-user setting and the user it points to.
type ServiceUser struct {
	Configured bool   `json:"configured"`           // the setting row exists and the lookup is set
	SettingID  string `json:"setting_id,omitempty"` // the settings row the lookup lives on
	UserID     string `json:"user_id,omitempty"`
	User       *User  `json:"user,omitempty"` // nil when the lookup points at a user that does not exist
	// SettingModifiedOn and SettingModifiedBy are when the settings row last changed and who changed it: its
	// modifiedon and modifiedby columns, the user named as Dataverse formats the lookup. Every Dataverse row has
	// them; they are absent where no settings row was read, and in snapshots of version 2 and earlier.
	SettingModifiedOn time.Time  `json:"setting_modified_on,omitzero"`
	SettingModifiedBy *Reference `json:"setting_modified_by,omitempty"`
}

// FailedJobs summarises failed Work 365 system jobs in the lookback window.
type FailedJobs struct {
	LookbackDays int       `json:"lookback_days"`
	Since        time.Time `json:"since"`
	Count        int       `json:"count"`
	Recent       []Job     `json:"recent"` // newest first, at most a few
}

// Job is a failed system job (asyncoperation).
type Job struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Message     string    `json:"message,omitempty"`
	ErrorCode   int       `json:"error_code,omitempty"`
	CreatedOn   time.Time `json:"created_on"`
	CompletedOn time.Time `json:"completed_on,omitempty"`
	OwnerID     string    `json:"owner_id,omitempty"`
}

// Owner is the owner of a flow, connection reference or template, with why it was flagged.
type Owner struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	DomainName       string `json:"domain_name,omitempty"`
	Disabled         bool   `json:"is_disabled"`
	Application      bool   `json:"is_application"`
	HoldsServiceRole bool   `json:"holds_service_role"`
	// ObjectID is the owner's Microsoft Entra object ID; system-managed users such as SYSTEM have none.
	ObjectID string `json:"object_id,omitempty"`
}

// Flow is a cloud flow (workflows, category 5).
type Flow struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State int    `json:"state"` // 0 Draft, 1 Activated, 2 Suspended
	Owner Owner  `json:"owner"`
}

// ConnectionReference is a Dataverse connection reference.
type ConnectionReference struct {
	ID          string `json:"id"`
	LogicalName string `json:"logical_name"`
	DisplayName string `json:"display_name,omitempty"`
	ConnectorID string `json:"connector_id,omitempty"`
	Owner       Owner  `json:"owner"`
}

// EmailTemplate is an email template (templates).
type EmailTemplate struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Personal bool   `json:"is_personal"`
	Owner    Owner  `json:"owner"`
}

// ErrUnsupportedVersion is wrapped by Decode when the snapshot's schema_version is not one this build reads.
var ErrUnsupportedVersion = errors.New("unsupported snapshot schema_version")

// Sort puts tenants and environments in their canonical order (tenant name, then environment name and ID),
// and the lists inside each environment in a stable order, so equal states serialize identically.
func (s *Snapshot) Sort() {
	sort.SliceStable(s.Tenants, func(i, j int) bool { return s.Tenants[i].Name < s.Tenants[j].Name })
	for ti := range s.Tenants {
		envs := s.Tenants[ti].Environments
		sort.SliceStable(envs, func(i, j int) bool {
			if envs[i].Name != envs[j].Name {
				return envs[i].Name < envs[j].Name
			}
			return envs[i].ID < envs[j].ID
		})
		for ei := range envs {
			if dv := envs[ei].Dataverse; dv != nil {
				dv.sort()
			}
		}
	}
}

func (dv *Dataverse) sort() {
	sortUsers(dv.ApplicationUsers)
	sortUsers(dv.ServiceRoleHolders)
	if dv.ServiceUser.User != nil {
		sortRoles(dv.ServiceUser.User.Roles)
	}
	sort.SliceStable(dv.Flows, func(i, j int) bool { return less(dv.Flows[i].Name, dv.Flows[i].ID, dv.Flows[j].Name, dv.Flows[j].ID) })
	sort.SliceStable(dv.ConnectionReferences, func(i, j int) bool {
		a, b := dv.ConnectionReferences[i], dv.ConnectionReferences[j]
		return less(a.LogicalName, a.ID, b.LogicalName, b.ID)
	})
	sort.SliceStable(dv.EmailTemplates, func(i, j int) bool {
		a, b := dv.EmailTemplates[i], dv.EmailTemplates[j]
		return less(a.Title, a.ID, b.Title, b.ID)
	})
}

func sortUsers(us []User) {
	sort.SliceStable(us, func(i, j int) bool { return less(us[i].FullName, us[i].ID, us[j].FullName, us[j].ID) })
	for i := range us {
		sortRoles(us[i].Roles)
	}
}

// sortRoles orders roles by name and ID, direct ones before those held through teams (by team name and ID).
func sortRoles(rs []Role) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Name != b.Name || a.ID != b.ID {
			return less(a.Name, a.ID, b.Name, b.ID)
		}
		switch {
		case a.Team == nil || b.Team == nil:
			return a.Team == nil && b.Team != nil
		default:
			return less(a.Team.Name, a.Team.ID, b.Team.Name, b.Team.ID)
		}
	})
}

func less(a, aID, b, bID string) bool {
	if a != b {
		return a < b
	}
	return aID < bID
}

// Encode writes the snapshot as indented JSON, one environment at a time: the bytes json.Encoder writes with
// a two-space indent and no HTML escaping, without the whole encoding in memory.
func Encode(w io.Writer, s *Snapshot) error {
	return encode(w, s, func(t int) int { return len(s.Tenants[t].Environments) }, func(t int, a *JSONArray) error {
		envs := s.Tenants[t].Environments
		for i := range envs {
			if err := a.Add(&envs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// encode writes s with the environments of its tenant t written by environments (count(t) of them; none
// leaves the tenant's Environments as they are, null or empty).
func encode(w io.Writer, s *Snapshot, count func(t int) int, environments func(t int, a *JSONArray) error) error {
	head := *s
	var splices []Splice
	if len(s.Tenants) > 0 {
		head.Tenants = make([]Tenant, 1)
		splices = append(splices, Splice{Key: "tenants", Write: func(v *JSONValue) error {
			return v.Array(func(a *JSONArray) error {
				for i := range s.Tenants {
					if count(i) == 0 {
						if err := a.Add(&s.Tenants[i]); err != nil {
							return err
						}
						continue
					}
					t := s.Tenants[i]
					t.Environments = make([]Environment, 1)
					err := a.Add(&t, Splice{Key: "environments", Write: func(v *JSONValue) error {
						return v.Array(func(a *JSONArray) error { return environments(i, a) })
					}})
					if err != nil {
						return err
					}
				}
				return nil
			})
		}})
	}
	return NewJSONWriter(w).Encode(&head, splices...)
}

// Decode reads a snapshot and checks that this build understands its schema_version.
func Decode(r io.Reader) (*Snapshot, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a snapshot (invalid JSON): %w", err)
	}
	switch {
	case head.SchemaVersion == nil:
		return nil, fmt.Errorf("%w: the file has no schema_version; is it a snapshot written by 'audit collect'?", ErrUnsupportedVersion)
	case *head.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("%w %d: this build reads versions 1 to %d; upgrade audit to read it", ErrUnsupportedVersion, *head.SchemaVersion, SchemaVersion)
	case *head.SchemaVersion < 1:
		return nil, fmt.Errorf("%w %d: unknown version", ErrUnsupportedVersion, *head.SchemaVersion)
	case *head.SchemaVersion < SchemaVersion:
		if data, err = migrate(data, *head.SchemaVersion); err != nil {
			return nil, fmt.Errorf("read snapshot of version %d: %w", *head.SchemaVersion, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return &s, nil
}

// migrate rewrites a snapshot of an earlier version as the current one. Version 1 recorded the settings table's
// entity set as settings_table and the lookup as service_user_attribute; its users and roles read the same in
// version 2 (it had no team roles, and evaluation now tells application users by their application ID alone).
// Version 3 only added optional fields, so a version 2 snapshot needs nothing but its new number.
func migrate(data []byte, from int) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var settings map[string]json.RawMessage
	if raw, ok := doc["settings"]; ok && from == 1 {
		if err := json.Unmarshal(raw, &settings); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		if v, ok := settings["settings_table"]; ok {
			settings["settings_entity_set"] = v
			delete(settings, "settings_table")
		}
		if v, ok := settings["service_user_attribute"]; ok {
			settings["service_user_lookup"] = v
			delete(settings, "service_user_attribute")
		}
		raw, err := json.Marshal(settings)
		if err != nil {
			return nil, err
		}
		doc["settings"] = raw
	}
	doc["schema_version"] = json.RawMessage(strconv.Itoa(SchemaVersion))
	return json.Marshal(doc)
}

// Load reads a snapshot file.
func Load(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Save writes a snapshot file readable by its owner only (it carries tenant data), one environment at a time.
func Save(path string, s *Snapshot) error {
	return WritePrivate(path, func(w io.Writer) error { return Encode(w, s) })
}

// WriteFilePrivate writes data to path atomically (temporary file, then rename) with mode 0600.
func WriteFilePrivate(path string, data []byte) error {
	return WritePrivate(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WritePrivate writes path atomically with mode 0600: write writes a temporary file in the same directory,
// through a buffer, which replaces path once it is complete. When write fails (or the process dies), path is
// left as it was.
func WritePrivate(path string, write func(w io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(dirOf(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			if i == 0 {
				return path[:1]
			}
			return path[:i]
		}
	}
	return "."
}
