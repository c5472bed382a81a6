// Package doctor checks what the auditor needs in each tenant and environment before a scan — credentials,
// the admin management application registration, membership of each environment, what a scan discovers of
// Work 365 there, and the read and write privileges — and says what to fix. It changes nothing.
package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/collect"
)

// Level is how much a check matters.
type Level string

// Levels of a check.
const (
	OK   Level = "ok"
	Info Level = "info"
	Warn Level = "warn" // scans work; audit fix would not
	Fail Level = "fail" // keeps a tenant or environment from being audited
)

// Check is the outcome of one check, and what to do about it when it is not ok.
type Check struct {
	Level   Level
	Message string
	Fix     string
}

// Environment is the checks of one environment with Dataverse.
type Environment struct {
	Name   string
	Kind   string // its type, and its runtime state when not Enabled
	Checks []Check
}

// Tenant is the checks of one tenant and of its environments.
type Tenant struct {
	Name         string
	ID           string
	Checks       []Check
	Environments []Environment
}

// Report is every tenant's checks.
type Report struct {
	Tenants []Tenant
}

// Count counts the checks of a level.
func (r *Report) Count(l Level) int {
	n := 0
	count := func(cs []Check) {
		for _, c := range cs {
			if c.Level == l {
				n++
			}
		}
	}
	for _, t := range r.Tenants {
		count(t.Checks)
		for _, e := range t.Environments {
			count(e.Checks)
		}
	}
	return n
}

// Options say what to check against.
type Options struct {
	// ClientIDs are the auditor's client ID per tenant name, for the registration advice.
	ClientIDs map[string]string
	// ClearCacheAction is Work 365's clear-cache action.
	ClearCacheAction string
}

// Privilege sets the auditor needs; the settings table's privileges are added per its name.
var (
	ReadNeeded = []string{"prvReadUser", "prvReadRole", "prvReadTeam", "prvReadBusinessUnit", "prvReadSolution", "prvReadAsyncOperation",
		"prvReadWorkflow", "prvReadConnectionReference", "prvReadTemplate"}
	WriteNeeded = []string{"prvCreateUser", "prvWriteUser", "prvAssignRole"}
)

// Run checks every target with the collector's requests.
func Run(ctx context.Context, collector *collect.Collector, targets []collect.Target, o Options) *Report {
	r := &Report{}
	for _, t := range targets {
		r.Tenants = append(r.Tenants, checkTenant(ctx, collector, t, o))
	}
	return r
}

func checkTenant(ctx context.Context, collector *collect.Collector, t collect.Target, o Options) Tenant {
	out := Tenant{Name: t.Name, ID: t.TenantID}
	add := func(c Check) { out.Checks = append(out.Checks, c) }
	if _, err := t.Tokens.Token(ctx, t.BAPScope); err != nil {
		add(Check{Fail, fmt.Sprintf("credentials: %v", err), "check tenant_id, client_id and the credential of this tenant in the config"})
		return out
	}
	add(Check{OK, fmt.Sprintf("credentials: a token for %s was issued", t.BAPScope), ""})
	envs, err := collector.Environments(ctx, t)
	if err != nil {
		if api.StatusOf(err) == 403 {
			add(Check{Fail, fmt.Sprintf("admin management application: the environment list was refused: %v", err),
				fmt.Sprintf("a Power Platform administrator registers the app once: Power Platform admin center → Settings → Admin management applications → + New app → %[1]s (or PUT https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/adminApplications/%[1]s?api-version=2020-10-01 as that administrator)", o.ClientIDs[t.Name])})
		} else {
			add(Check{Fail, fmt.Sprintf("environment list: %v", err), "check the bap URL of the tenant and the network path to it"})
		}
		return out
	}
	withDV := 0
	for _, e := range envs {
		if e.HasDataverse {
			withDV++
		}
	}
	add(Check{OK, fmt.Sprintf("admin management application: %d environments listed, %d with Dataverse", len(envs), withDV), ""})
	sort.Slice(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	for _, e := range envs {
		if !e.HasDataverse || (t.Include != nil && !t.Include(e.Name, e.ID)) {
			continue
		}
		env := Environment{Name: e.Name, Kind: e.Type}
		if e.State != "" && !strings.EqualFold(e.State, "Enabled") {
			env.Kind += ", runtime state " + e.State
		}
		if strings.EqualFold(e.State, collect.StateDisabled) {
			env.Checks = []Check{{Info, "the environment is disabled: scans report it as not applicable until it is enabled", ""}}
		} else {
			env.Checks = checkEnvironment(ctx, collector, t, e.InstanceURL, o.ClearCacheAction)
		}
		out.Environments = append(out.Environments, env)
	}
	return out
}

func checkEnvironment(ctx context.Context, collector *collect.Collector, t collect.Target, instanceURL, clearCache string) []Check {
	var out []Check
	add := func(l Level, fix, format string, args ...any) {
		out = append(out, Check{Level: l, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	dv, err := api.NewDataverse(t.Client, instanceURL, 0)
	if err != nil {
		add(Fail, "check the environment in the Power Platform admin center", "instance URL: %v", err)
		return out
	}
	var who struct {
		UserID string `json:"UserId"`
	}
	if err := dv.Get(ctx, "WhoAmI", &who); err != nil {
		if api.CodeOf(err) == "0x80072560" {
			add(Fail, "add the auditor's app as an application user of this environment: Power Platform admin center → Environments → the environment → Settings → Users + permissions → Application users → + New app user, with a role that can read users, roles and solutions",
				"member: the auditor's app has no application user here")
			return out
		}
		add(Fail, "see the error; the scan of this environment would fail the same way", "member: %v", err)
		return out
	}
	add(OK, "", "member: the auditor is user %s", who.UserID)

	// What a scan discovers of Work 365 here, with the same requests.
	disc, derr := collector.Discover(ctx, t.Client, instanceURL, clearCache)
	settingsTable := ""
	switch {
	case derr != nil && disc == nil:
		add(Fail, "see the error; the scan of this environment would fail the same way", "Work 365 solution: %v", derr)
	case !disc.Solution.Installed && len(disc.Tables) > 0:
		add(Fail, "set work365.solution, work365.solution_friendly_name or work365.publisher in the config to the names this Work 365 version uses (Power Apps → Solutions lists them)",
			"Work 365: its tables exist (%s) but no solution was found by %s", strings.Join(disc.Tables, ", "), strings.Join(disc.Solution.Tried, ", or "))
	case !disc.Solution.Installed:
		add(Info, "", "Work 365 is not installed (looked for %s): the rules do not apply here", strings.Join(disc.Solution.Tried, ", "))
	default:
		sol := disc.Solution
		add(OK, "", "Work 365: solution %q (%s) version %s, found by %s", sol.UniqueName, sol.FriendlyName, sol.Version, strings.ReplaceAll(sol.MatchedBy, "_", " "))
		if derr != nil {
			add(Fail, "set work365.settings_table, service_user_lookup (or settings_entity_set and service_user_navigation) in the config to the names this Work 365 version uses", "Work 365 settings: %v", derr)
			break
		}
		sc := disc.Schema
		settingsTable = sc.SettingsTable
		add(OK, "", "Work 365 settings: table %s, entity set %s (from %s)", sc.SettingsTable, sc.EntitySet, sc.Source)
		add(OK, "", "service-user lookup: reads %s, writes bind through %s@odata.bind", sc.ValueColumn(), sc.Navigation)
		if disc.ClearCache {
			add(OK, "", "clear cache: the action %s exists", clearCache)
		} else {
			add(Info, "", "clear cache: no action %s here: audit fix lists Clear Cache as a manual step (Work 365 → Admin Hub → Clear Cache)", clearCache)
		}
	}

	var privs struct {
		RolePrivileges []struct {
			PrivilegeName string `json:"PrivilegeName"`
		} `json:"RolePrivileges"`
	}
	if err := dv.Get(ctx, "systemusers("+who.UserID+")/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()", &privs); err != nil {
		add(Warn, "check the auditor's security roles by hand", "privileges could not be read: %v", err)
		return out
	}
	held := map[string]bool{}
	for _, p := range privs.RolePrivileges {
		held[strings.ToLower(p.PrivilegeName)] = true
	}
	missing := func(names []string) []string {
		var m []string
		for _, n := range names {
			if !held[strings.ToLower(n)] {
				m = append(m, n)
			}
		}
		return m
	}
	read := append([]string{}, ReadNeeded...)
	write := append([]string{}, WriteNeeded...)
	if settingsTable != "" {
		read = append(read, "prvRead"+settingsTable)
		write = append(write, "prvWrite"+settingsTable)
	}
	if m := missing(read); len(m) > 0 {
		add(Fail, "give the auditor's application user a role with organization-level Read on users, roles, teams, business units, solutions, system jobs, processes, connection references, email templates and the Work 365 settings",
			"read privileges for audit scan: missing %s", strings.Join(m, ", "))
	} else {
		add(OK, "", "read privileges for audit scan")
	}
	if m := missing(write); len(m) > 0 {
		add(Warn, "for audit fix, give the auditor's application user a role with Create and Write on users, Assign Role, and Write on the Work 365 settings (or run audit fix as a principal that has them)",
			"write privileges for audit fix: missing %s", strings.Join(m, ", "))
	} else {
		add(OK, "", "write privileges for audit fix")
	}
	return out
}
