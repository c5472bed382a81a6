// Package report renders evaluation results: one Reporter per format behind one registry. The JSON report is
// the canonical form; the other formats render the same Report model. Nothing here calls an API.
package report

import (
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// SchemaVersion is the version of the JSON report format (docs/report.schema.json).
const SchemaVersion = 1

// Report is everything a format renders.
type Report struct {
	SchemaVersion int             `json:"schema_version"`
	Tool          Tool            `json:"tool"`
	Policy        PolicyInfo      `json:"policy"`
	GeneratedAt   time.Time       `json:"generated_at"`
	CollectedAt   time.Time       `json:"collected_at"`
	FailOn        string          `json:"fail_on"`
	Tenants       []Tenant        `json:"tenants"`
	Environments  []Environment   `json:"environments"`
	Rules         []Rule          `json:"rules"`
	Results       []policy.Result `json:"results"`
	Warnings      []string        `json:"warnings"`
	Summary       Summary         `json:"summary"`
	// Fix is the outcome of audit fix --apply or audit scan --fix, when the report describes the state after it.
	Fix *Fix `json:"fix,omitempty"`
	// Drift is what changed since the previous scan of the same scope in the history (scan --history).
	Drift *Drift `json:"drift,omitempty"`
	// Shard is set on the report of one part of a sharded scan (scan --shard); audit merge removes it.
	Shard *Shard `json:"shard,omitempty"`
}

// Tool names the program and version that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PolicyInfo identifies the policy bundle the results came from.
type PolicyInfo struct {
	Digest  string   `json:"digest"`
	Rules   int      `json:"rules"`
	Sources []string `json:"sources"`
}

// Tenant is a tenant of the scan and whether its environment list could be read.
type Tenant struct {
	Name         string `json:"name"`
	ID           string `json:"id"`
	Cloud        string `json:"cloud,omitempty"`
	Error        string `json:"error,omitempty"`
	Environments int    `json:"environments"`
}

// Rule is the catalog entry of a rule as reports show it.
type Rule struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Severity    string            `json:"severity"`
	Guide       string            `json:"guide,omitempty"`
	Remediation string            `json:"remediation,omitempty"`
	Automatic   bool              `json:"automatic"`
	Source      string            `json:"source"`
	Related     []policy.Resource `json:"related_resources,omitempty"`
}

// Environment is one environment with its overall status and the inventory the guide asks admins to record.
type Environment struct {
	Tenant      string `json:"tenant"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Region      string `json:"region"`
	InstanceURL string `json:"instance_url,omitempty"`
	// RegionAppID is the Work 365 App ID of the environment's region (policy data: app_ids through regions),
	// known for every environment whose region maps to a data centre.
	RegionAppID      string        `json:"region_app_id,omitempty"`
	Status           policy.Status `json:"status"` // fail, error, pass, not_applicable: the worst of its results
	CollectionStatus string        `json:"collection_status"`
	Error            string        `json:"error,omitempty"`
	SkipReason       string        `json:"skip_reason,omitempty"`
	Counts           Counts        `json:"counts"`
	Inventory        *Inventory    `json:"inventory,omitempty"`
}

// Counts are results by status.
type Counts map[policy.Status]int

// Inventory is what the guide asks administrators to record for audits.
type Inventory struct {
	ApplicationUser *User    `json:"application_user,omitempty"`
	AppID           string   `json:"app_id,omitempty"`
	Roles           []string `json:"roles"`
	// DirectRoles are the roles the application user holds directly (a role can be held both ways); nil in
	// reports written before it was recorded.
	DirectRoles    []string   `json:"direct_roles,omitzero"`
	TeamRoles      []TeamRole `json:"team_roles,omitempty"`
	ServiceUser    *User      `json:"service_user,omitempty"`
	Work365Version string     `json:"work365_version,omitempty"`
	Work365FoundBy string     `json:"work365_found_by,omitempty"`
	BusinessUnit   string     `json:"business_unit,omitempty"`
	// ServiceUserSetting is the settings row that holds the service user: when it last changed and by whom.
	ServiceUserSetting *Setting `json:"service_user_setting,omitempty"`
}

// Setting is the Work 365 settings row that holds the service user, with its last change (its modifiedon and
// modifiedby columns, which Dataverse sets on every change).
type Setting struct {
	ID           string    `json:"id"`
	ModifiedOn   time.Time `json:"modified_on,omitzero"`
	ModifiedBy   string    `json:"modified_by,omitempty"` // the user's name
	ModifiedByID string    `json:"modified_by_id,omitempty"`
}

// TeamRole is a role the application user holds through a team.
type TeamRole struct {
	Role string `json:"role"`
	Team string `json:"team"`
}

// User is a user as the inventory shows it.
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	DomainName string `json:"domain_name,omitempty"`
	AppID      string `json:"app_id,omitempty"`
	Kind       string `json:"kind"` // application or person
	Enabled    bool   `json:"enabled"`
	Deleted    bool   `json:"deleted"`
	Licensed   bool   `json:"licensed"`
	// BusinessUnit is the name of the user's business unit, where it was read.
	BusinessUnit string `json:"business_unit,omitempty"`
}

// Summary counts results and environments.
type Summary struct {
	Environments     Counts            `json:"environments"` // by overall status
	Results          Counts            `json:"results"`      // by status
	BySeverity       map[string]Counts `json:"by_severity"`  // severity → status → count
	FailingAtOrAbove int               `json:"failing_at_or_above_threshold"`
	Errors           int               `json:"environments_with_errors"`
}

// Input is what Build needs.
type Input struct {
	Snapshot *snapshot.Snapshot
	Results  []policy.Result
	Rules    []policy.Rule
	// AppIDs (geo → Work 365 App ID) and Regions (BAP location → geo) are the policy data the inventory reads.
	AppIDs  map[string]string
	Regions map[string]string
	// Inventories, when set, are the environments' inventories made while they were collected (InventoryOf),
	// for a snapshot whose environments no longer hold their data.
	Inventories map[string]*Inventory
	Digest      string
	Sources     []string
	ToolVersion string
	GeneratedAt time.Time
	FailOn      string
	Warnings    []string
}

// Build assembles the report model from a snapshot and its results, in a stable order.
func Build(in Input) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "audit", Version: in.ToolVersion},
		Policy:        PolicyInfo{Digest: in.Digest, Rules: len(in.Rules), Sources: in.Sources},
		GeneratedAt:   in.GeneratedAt.UTC(),
		CollectedAt:   in.Snapshot.CollectedAt.UTC(),
		FailOn:        in.FailOn,
		Tenants:       []Tenant{},
		Environments:  []Environment{},
		Rules:         []Rule{},
		Results:       in.Results,
		Warnings:      in.Warnings,
	}
	if r.Results == nil {
		r.Results = []policy.Result{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Policy.Sources == nil {
		r.Policy.Sources = []string{"embedded"}
	}
	for _, rule := range in.Rules {
		r.Rules = append(r.Rules, Rule{ID: rule.ID, Title: rule.Title, Description: rule.Description, Severity: rule.Severity,
			Guide: rule.Guide, Remediation: rule.Remediation, Automatic: rule.Automatic, Source: rule.Source, Related: rule.Related})
	}
	byEnv := map[string][]policy.Result{}
	for _, res := range r.Results {
		byEnv[res.EnvironmentID] = append(byEnv[res.EnvironmentID], res)
	}
	appIDs, regions := lowerValues(in.AppIDs), in.Regions
	for _, t := range in.Snapshot.Tenants {
		tr := Tenant{Name: t.Name, ID: t.ID, Cloud: t.Cloud, Environments: len(t.Environments)}
		if t.Error != nil {
			tr.Error = t.Error.Error()
		}
		r.Tenants = append(r.Tenants, tr)
		for i := range t.Environments {
			env := &t.Environments[i]
			e := Environment{Tenant: t.Name, ID: env.ID, Name: env.Name, Type: env.Type, Region: env.Region,
				InstanceURL: env.InstanceURL, RegionAppID: appIDs[regions[env.Region]], CollectionStatus: env.Status,
				SkipReason: env.SkipReason, Counts: Counts{}}
			if env.Error != nil {
				e.Error = env.Error.Stage + ": " + env.Error.Message
			}
			for _, res := range byEnv[env.ID] {
				e.Counts[res.Status]++
			}
			e.Status = overall(e.Counts)
			if inv, ok := in.Inventories[env.ID]; ok {
				e.Inventory = inv
			} else {
				e.Inventory = InventoryOf(env, appIDs, regions)
			}
			r.Environments = append(r.Environments, e)
		}
	}
	r.Summary = summarize(r, in.FailOn)
	return r
}

// overall is an environment's status: the worst status among its results.
func overall(c Counts) policy.Status {
	for _, s := range []policy.Status{policy.StatusError, policy.StatusFail, policy.StatusWaived, policy.StatusPass} {
		if c[s] > 0 {
			if s == policy.StatusWaived {
				return policy.StatusPass
			}
			return s
		}
	}
	return policy.StatusNotApplicable
}

func summarize(r *Report, failOn string) Summary {
	s := Summary{Environments: Counts{}, Results: Counts{}, BySeverity: map[string]Counts{}}
	for _, sev := range policy.Severities {
		s.BySeverity[sev] = Counts{}
	}
	threshold := policy.SeverityRank(failOn)
	for _, res := range r.Results {
		s.Results[res.Status]++
		if s.BySeverity[res.Severity] == nil {
			s.BySeverity[res.Severity] = Counts{}
		}
		s.BySeverity[res.Severity][res.Status]++
		if res.Status == policy.StatusFail && policy.SeverityRank(res.Severity) >= threshold && threshold > 0 {
			s.FailingAtOrAbove++
		}
	}
	for _, e := range r.Environments {
		s.Environments[e.Status]++
		if e.CollectionStatus == snapshot.StatusError {
			s.Errors++
		}
	}
	for _, t := range r.Tenants {
		if t.Error != "" {
			s.Errors++
		}
	}
	return s
}

func lowerValues(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = strings.ToLower(v)
	}
	return out
}

// InventoryOf is what the report records of an environment running Work 365 (nil otherwise), for the App IDs
// by geo and the region map of the policy data.
func InventoryOf(env *snapshot.Environment, appIDs, regions map[string]string) *Inventory {
	if env.Dataverse == nil || !env.Dataverse.Work365.Installed {
		return nil
	}
	ids := lowerValues(appIDs)
	return inventory(env, ids[regions[env.Region]], ids)
}

// inventory picks the application user in use the way the rules do: the service user when it is a Work 365
// application user, else the one with the region's App ID, else any live one.
func inventory(env *snapshot.Environment, expected string, appIDs map[string]string) *Inventory {
	dv := env.Dataverse
	inv := &Inventory{Roles: []string{}, DirectRoles: []string{}, Work365Version: dv.Work365.Version, Work365FoundBy: dv.Work365.MatchedBy}
	var app *snapshot.User
	if su := dv.ServiceUser.User; su != nil {
		for i := range dv.ApplicationUsers {
			if strings.EqualFold(dv.ApplicationUsers[i].ID, su.ID) {
				app = &dv.ApplicationUsers[i]
			}
		}
	}
	pick := func(ok func(u *snapshot.User) bool) {
		for i := range dv.ApplicationUsers {
			if app == nil && ok(&dv.ApplicationUsers[i]) {
				app = &dv.ApplicationUsers[i]
			}
		}
	}
	pick(func(u *snapshot.User) bool {
		return u.DeletedState == 0 && strings.EqualFold(u.ApplicationID, expected)
	})
	pick(func(u *snapshot.User) bool { return u.DeletedState == 0 })
	pick(func(u *snapshot.User) bool { return true })
	if app != nil {
		inv.ApplicationUser = userOf(app)
		inv.AppID = app.ApplicationID
		seen, direct := map[string]bool{}, map[string]bool{}
		for _, role := range app.Roles {
			if !seen[role.Name] {
				seen[role.Name] = true
				inv.Roles = append(inv.Roles, role.Name)
			}
			if role.Team != nil {
				inv.TeamRoles = append(inv.TeamRoles, TeamRole{Role: role.Name, Team: role.Team.Name})
			} else if !direct[role.Name] {
				direct[role.Name] = true
				inv.DirectRoles = append(inv.DirectRoles, role.Name)
			}
		}
		sort.Strings(inv.Roles)
		sort.Strings(inv.DirectRoles)
		sort.Slice(inv.TeamRoles, func(i, j int) bool {
			a, b := inv.TeamRoles[i], inv.TeamRoles[j]
			if a.Role != b.Role {
				return a.Role < b.Role
			}
			return a.Team < b.Team
		})
		if app.BusinessUnit != nil {
			inv.BusinessUnit = app.BusinessUnit.Name
		}
	}
	if su := dv.ServiceUser.User; su != nil {
		inv.ServiceUser = userOf(su)
	}
	if s := dv.ServiceUser; s.SettingID != "" {
		inv.ServiceUserSetting = &Setting{ID: s.SettingID, ModifiedOn: s.SettingModifiedOn.UTC()}
		if by := s.SettingModifiedBy; by != nil {
			inv.ServiceUserSetting.ModifiedBy, inv.ServiceUserSetting.ModifiedByID = by.Name, by.ID
		}
	}
	if inv.BusinessUnit == "" && dv.RootBusinessUnit != nil {
		inv.BusinessUnit = dv.RootBusinessUnit.Name
	}
	return inv
}

func userOf(u *snapshot.User) *User {
	out := &User{ID: u.ID, Name: u.FullName, DomainName: u.DomainName, AppID: u.ApplicationID, Kind: "person",
		Enabled: !u.Disabled, Deleted: u.DeletedState != 0, Licensed: u.Licensed}
	if u.IsApplication() {
		out.Kind = "application"
	}
	if u.BusinessUnit != nil {
		out.BusinessUnit = u.BusinessUnit.Name
	}
	return out
}
