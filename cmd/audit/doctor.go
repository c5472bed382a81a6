package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/collect"
)

// doctorOptions are the flags of audit doctor.
type doctorOptions struct {
	configPath string
	envs       []string
}

func newDoctorCmd(g *globals) *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check credentials, registration and privileges, and say what to fix; changes nothing",
		Long: `doctor checks, for each configured tenant, that the auditor can get tokens, that its app is registered as
a Power Platform admin management application (so it can list environments), and for each environment
with Dataverse that its application user exists there and holds the privileges a scan reads with and
the ones audit fix writes with. It shows what a scan discovers of Work 365 in each environment: the
solution and how it was found (unique name, friendly name or publisher) with its version, the settings
table's entity set, the service-user lookup's read and write (navigation) names, and whether the
clear-cache action exists. It prints what to fix and changes nothing.

Exit codes: 0 everything is in place; 3 scans work but audit fix would lack privileges somewhere;
4 something would keep a tenant or environment from being audited; 2 usage or config error.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "config file (tenants, credentials); default: the AZURE_* variables")
	cmd.Flags().StringSliceVar(&o.envs, "env", nil, "only environments whose name or ID matches this glob (repeatable)")
	return cmd
}

// privilege sets the auditor needs; the settings table's privileges are added per its configured name.
var (
	readNeeded = []string{"prvReadUser", "prvReadRole", "prvReadTeam", "prvReadBusinessUnit", "prvReadSolution", "prvReadAsyncOperation",
		"prvReadWorkflow", "prvReadConnectionReference", "prvReadTemplate"}
	writeNeeded = []string{"prvCreateUser", "prvWriteUser", "prvAssignRole"}
)

type doctorState struct {
	g        *globals
	blocking int
	warnings int
}

func (d *doctorState) ok(format string, args ...any) {
	printf(d.g.stdout, "  ok    "+format+"\n", args...)
}

func (d *doctorState) fail(fix string, format string, args ...any) {
	d.blocking++
	printf(d.g.stdout, "  FAIL  "+format+"\n", args...)
	printf(d.g.stdout, "        fix: %s\n", fix)
}

func (d *doctorState) warn(fix string, format string, args ...any) {
	d.warnings++
	printf(d.g.stdout, "  WARN  "+format+"\n", args...)
	printf(d.g.stdout, "        fix: %s\n", fix)
}

func runDoctor(ctx context.Context, g *globals, o doctorOptions) error {
	s, err := openSession(ctx, g, o.configPath, nil, o.envs, 0)
	if err != nil {
		return err
	}
	cfg := s.cfg
	d := &doctorState{g: g}
	collector := collect.New(s.opts)
	clientIDs := map[string]string{}
	for _, t := range cfg.Tenants {
		clientIDs[t.Name] = t.ClientID
		if t.ManagedIdentity {
			// A managed identity registers by its own client ID (the system-assigned one's is on its host).
			clientIDs[t.Name] = t.ManagedIdentityClientID
			if clientIDs[t.Name] == "" {
				clientIDs[t.Name] = "<the managed identity's client ID>"
			}
		}
	}
	for _, t := range s.targets {
		printf(g.stdout, "Tenant %s (%s)\n", t.Name, t.TenantID)
		if _, err := t.Tokens.Token(ctx, t.BAPScope); err != nil {
			d.fail("check tenant_id, client_id and the credential of this tenant in the config", "credentials: %v", err)
			fmt.Fprintln(g.stdout)
			continue
		}
		d.ok("credentials: a token for %s was issued", t.BAPScope)
		envs, err := collector.Environments(ctx, t)
		if err != nil {
			if api.StatusOf(err) == 403 {
				d.fail(fmt.Sprintf("a Power Platform administrator registers the app once: Power Platform admin center → Settings → Admin management applications → + New app → %[1]s (or PUT https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/adminApplications/%[1]s?api-version=2020-10-01 as that administrator)", clientIDs[t.Name]),
					"admin management application: the environment list was refused: %v", err)
			} else {
				d.fail("check the bap URL of the tenant and the network path to it", "environment list: %v", err)
			}
			fmt.Fprintln(g.stdout)
			continue
		}
		withDV := 0
		for _, e := range envs {
			if e.HasDataverse {
				withDV++
			}
		}
		d.ok("admin management application: %d environments listed, %d with Dataverse", len(envs), withDV)
		sort.Slice(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
		for _, e := range envs {
			if !e.HasDataverse || (t.Include != nil && !t.Include(e.Name, e.ID)) {
				continue
			}
			kind := e.Type
			if e.State != "" && !strings.EqualFold(e.State, "Enabled") {
				kind += ", runtime state " + e.State
			}
			printf(g.stdout, "\n  Environment %s (%s)\n", e.Name, kind)
			if strings.EqualFold(e.State, collect.StateDisabled) {
				fmt.Fprintln(g.stdout, "  info  the environment is disabled: scans report it as not applicable until it is enabled")
				continue
			}
			d.checkEnvironment(ctx, collector, t, e.InstanceURL, cfg.Work365.ClearCacheAction)
		}
		fmt.Fprintln(g.stdout)
	}
	switch {
	case d.blocking > 0:
		printf(g.stdout, "%s keep tenants or environments from being audited; %s would keep audit fix from working.\n", problems(d.blocking), problems(d.warnings))
		return &exitErr{code: exitUnaudited}
	case d.warnings > 0:
		printf(g.stdout, "Scans will work; %s would keep audit fix from working.\n", problems(d.warnings))
		return &exitErr{code: exitFailing}
	}
	fmt.Fprintln(g.stdout, "Everything audit needs is in place.")
	return nil
}

func (d *doctorState) checkEnvironment(ctx context.Context, collector *collect.Collector, t collect.Target, instanceURL, clearCache string) {
	dv, err := api.NewDataverse(t.Client, instanceURL, 0)
	if err != nil {
		d.fail("check the environment in the Power Platform admin center", "instance URL: %v", err)
		return
	}
	var who struct {
		UserID string `json:"UserId"`
	}
	if err := dv.Get(ctx, "WhoAmI", &who); err != nil {
		if api.CodeOf(err) == "0x80072560" {
			d.fail("add the auditor's app as an application user of this environment: Power Platform admin center → Environments → the environment → Settings → Users + permissions → Application users → + New app user, with a role that can read users, roles and solutions",
				"member: the auditor's app has no application user here")
			return
		}
		d.fail("see the error; the scan of this environment would fail the same way", "member: %v", err)
		return
	}
	d.ok("member: the auditor is user %s", who.UserID)

	// What a scan discovers of Work 365 here, with the same requests.
	disc, derr := collector.Discover(ctx, t.Client, instanceURL, clearCache)
	settingsTable := ""
	switch {
	case derr != nil && disc == nil:
		d.fail("see the error; the scan of this environment would fail the same way", "Work 365 solution: %v", derr)
	case !disc.Solution.Installed && len(disc.Tables) > 0:
		d.fail("set work365.solution, work365.solution_friendly_name or work365.publisher in the config to the names this Work 365 version uses (Power Apps → Solutions lists them)",
			"Work 365: its tables exist (%s) but no solution was found by %s", strings.Join(disc.Tables, ", "), strings.Join(disc.Solution.Tried, ", or "))
	case !disc.Solution.Installed:
		printf(d.g.stdout, "  info  Work 365 is not installed (looked for %s): the rules do not apply here\n", strings.Join(disc.Solution.Tried, ", "))
	default:
		sol := disc.Solution
		d.ok("Work 365: solution %q (%s) version %s, found by %s", sol.UniqueName, sol.FriendlyName, sol.Version, strings.ReplaceAll(sol.MatchedBy, "_", " "))
		if derr != nil {
			d.fail("set work365.settings_table, service_user_lookup (or settings_entity_set and service_user_navigation) in the config to the names this Work 365 version uses", "Work 365 settings: %v", derr)
			break
		}
		sc := disc.Schema
		settingsTable = sc.SettingsTable
		d.ok("Work 365 settings: table %s, entity set %s (from %s)", sc.SettingsTable, sc.EntitySet, sc.Source)
		d.ok("service-user lookup: reads %s, writes bind through %s@odata.bind", sc.ValueColumn(), sc.Navigation)
		if disc.ClearCache {
			d.ok("clear cache: the action %s exists", clearCache)
		} else {
			printf(d.g.stdout, "  info  clear cache: no action %s here: audit fix lists Clear Cache as a manual step (Work 365 → Admin Hub → Clear Cache)\n", clearCache)
		}
	}

	var privs struct {
		RolePrivileges []struct {
			PrivilegeName string `json:"PrivilegeName"`
		} `json:"RolePrivileges"`
	}
	if err := dv.Get(ctx, "systemusers("+who.UserID+")/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()", &privs); err != nil {
		d.warn("check the auditor's security roles by hand", "privileges could not be read: %v", err)
		return
	}
	held := map[string]bool{}
	for _, p := range privs.RolePrivileges {
		held[strings.ToLower(p.PrivilegeName)] = true
	}
	missing := func(names []string) []string {
		var out []string
		for _, n := range names {
			if !held[strings.ToLower(n)] {
				out = append(out, n)
			}
		}
		return out
	}
	read := append([]string{}, readNeeded...)
	write := append([]string{}, writeNeeded...)
	if settingsTable != "" {
		read = append(read, "prvRead"+settingsTable)
		write = append(write, "prvWrite"+settingsTable)
	}
	if m := missing(read); len(m) > 0 {
		d.fail("give the auditor's application user a role with organization-level Read on users, roles, teams, business units, solutions, system jobs, processes, connection references, email templates and the Work 365 settings",
			"read privileges for audit scan: missing %s", strings.Join(m, ", "))
	} else {
		d.ok("read privileges for audit scan")
	}
	if m := missing(write); len(m) > 0 {
		d.warn("for audit fix, give the auditor's application user a role with Create and Write on users, Assign Role, and Write on the Work 365 settings (or run audit fix as a principal that has them)",
			"write privileges for audit fix: missing %s", strings.Join(m, ", "))
	} else {
		d.ok("write privileges for audit fix")
	}
}

func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
