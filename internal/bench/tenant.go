// Package bench measures the auditor at scale: it generates a tenant of many environments for the emulator,
// runs the real scan, evaluation and fix paths against it in separate processes, and reports wall time against
// the lower bound the network allows, the speed-up over a sequential scan, evaluation time against `opa eval`,
// peak memory and allocations, as JSON and Markdown that two runs can be compared with.
package bench

import (
	"fmt"
	"strings"

	"github.com/work365/audit/internal/emulator"
)

// Work 365 App IDs by data centre, and the auditor's own client, as in the demo tenants.
const (
	USAppID = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"
	EUAppID = "5e56ae97-9be1-40d3-938b-99ea52175a30"

	ClientID     = "6b1f0c2a-3d4e-4f50-8a9b-0c1d2e3f4a5b"
	ClientSecret = "bench-secret-not-a-real-credential"
	TenantID     = "0b3e5c1a-7d2f-4e8b-9a6c-1f2e3d4c5b6a"
	TenantName   = "bench"
)

// Spec describes a generated tenant.
type Spec struct {
	// Environments is the number of environments (default 1000).
	Environments int
	// Users per environment (default 300), of which AppUsers are application users (default 50).
	Users, AppUsers int
	// Fixable generates sandboxes that each need a few automatic fixes (for the fix benchmark) instead of the
	// mix of profiles a scan meets.
	Fixable bool
	// Tenants splits the environments between that many tenants (default 1), each with its own client: the
	// fleet of a partner auditing its customers.
	Tenants int
	// Work365Share is the share of environments that run Work 365 (default 1); the others are, in turn,
	// Dataverse environments without it (developer, trial, sandbox and production) and environments without
	// Dataverse (Teams), as in real tenants.
	Work365Share float64
}

func (s Spec) withDefaults() Spec {
	if s.Environments <= 0 {
		s.Environments = 1000
	}
	if s.Users <= 0 {
		s.Users = 300
	}
	if s.AppUsers <= 0 || s.AppUsers > s.Users-2 {
		s.AppUsers = min(50, s.Users-2)
	}
	if s.Tenants <= 0 {
		s.Tenants = 1
	}
	if s.Work365Share <= 0 || s.Work365Share > 1 {
		s.Work365Share = 1
	}
	return s
}

// runsWork365 says whether environment i of the spec runs Work 365: spread evenly, Work365Share of them.
func (s Spec) runsWork365(i int) bool {
	return int(float64(i+1)*s.Work365Share) > int(float64(i)*s.Work365Share)
}

// TenantInfo names generated tenant t: its ID, name and the client the auditor signs in with.
func TenantInfo(spec Spec, t int) (id, name, clientID string) {
	if spec.withDefaults().Tenants == 1 {
		return TenantID, TenantName, ClientID
	}
	return guid("tenant", t), fmt.Sprintf("%s%03d", TenantName, t), guid("client", t)
}

// Fleet generates the fixtures of every tenant of the spec; environment i belongs to tenant i·Tenants/N and
// keeps its name and ID whatever the number of tenants.
func Fleet(spec Spec) []*emulator.Fixture {
	spec = spec.withDefaults()
	out := make([]*emulator.Fixture, spec.Tenants)
	for t := range out {
		id, name, client := TenantInfo(spec, t)
		out[t] = &emulator.Fixture{
			Tenant:  emulator.TenantInfo{ID: id, Name: name, Domain: name + ".onmicrosoft.com"},
			Clients: []emulator.Client{{Name: "Compliance Auditor", ClientID: client, Secret: ClientSecret}},
			ServicePrincipals: []emulator.ServicePrincipal{
				{AppID: USAppID, Name: "Work 365"}, {AppID: EUAppID, Name: "Work 365 EU"},
			},
		}
	}
	profiles := scanProfiles
	if spec.Fixable {
		profiles = fixProfiles
	}
	w365 := 0
	for i := 0; i < spec.Environments; i++ {
		f := out[i*spec.Tenants/spec.Environments]
		var e emulator.Environment
		if spec.runsWork365(i) {
			e = environment(spec, i, profiles[w365%len(profiles)])
			w365++
		} else {
			e = plainEnvironment(i, i-w365)
		}
		if e.Dataverse != nil && len(e.Dataverse.Users) > 0 && e.Dataverse.Users[0].Key == "auditor" {
			e.Dataverse.Users[0].ApplicationID = f.Clients[0].ClientID // the tenant's own auditor
		}
		f.Environments = append(f.Environments, e)
	}
	return out
}

// plainKinds are the environments without Work 365 a fleet holds, in turn: Dataverse of every type, and Teams
// without Dataverse.
var plainKinds = []string{"Developer", "Trial", "Sandbox", "Production", "Developer", "Teams"}

// plainEnvironment is an environment without Work 365 (k counts them): its Dataverse holds other solutions,
// or it has no Dataverse.
func plainEnvironment(i, k int) emulator.Environment {
	kind := plainKinds[k%len(plainKinds)]
	e := emulator.Environment{Name: EnvironmentName(i), ID: guid("environment", i), SKU: kind, Location: "unitedstates", AzureRegion: "westus"}
	if kind == "Teams" {
		return e
	}
	domain := fmt.Sprintf("bench%04d", i)
	e.Dataverse = &emulator.Dataverse{Domain: domain, Version: "9.2.25101.00150",
		BusinessUnits: []emulator.BusinessUnit{{Name: domain}}, Roles: []string{"System Administrator", "Basic User"},
		Solutions: []emulator.Solution{{UniqueName: "msdynce_Sales", FriendlyName: "Dynamics 365 Sales", Version: "9.0.2405.1", IsManaged: true}}}
	four, no := 4, false
	e.Dataverse.Users = []emulator.User{{Key: "auditor", FullName: "# Compliance Auditor", ApplicationID: ClientID,
		AccessMode: &four, IsLicensed: &no, Roles: []string{"System Administrator"}}}
	return e
}

// EnvironmentName is the display name of the i-th generated environment; names sort in index order, so a
// glob such as "Bench 00[0-4]?" selects the first 50.
func EnvironmentName(i int) string { return fmt.Sprintf("Bench %04d", i) }

// SampleGlob selects the first n generated environments when n is 10, 50, 100, 500 or 1000 (and every
// environment otherwise).
func SampleGlob(n int) string {
	switch n {
	case 10:
		return "Bench 000?"
	case 50:
		return "Bench 00[0-4]?"
	case 100:
		return "Bench 00??"
	case 500:
		return "Bench 0[0-4]??"
	case 1000:
		return "Bench 0???"
	}
	return "Bench *"
}

// roles are the security roles of every generated environment; each exists once per business unit.
var roles = []string{
	"System Administrator", "System Customizer", "Basic User", "Environment Maker", "Salesperson", "Sales Manager",
	"Work 365 Admin", "Work 365 Service", "Work 365 Portal Service",
}

// profile is what an environment looks like to the rules; the scan tenant cycles through them.
type profile struct {
	sku, location string
	appUser       bool // the region's Work 365 application user exists
	appRoles      []string
	appDisabled   bool
	serviceUser   string // "app", "legacy" (the licensed human service account) or "" (not set)
	version       string // Work 365 version; "" when not installed
	failedJobs    int    // failed Work 365 jobs in the lookback window
	orphans       bool   // flows, a connection reference and a template owned by a disabled user or the legacy account
}

var both = []string{"Work 365 Service", "Work 365 Portal Service"}

// scanProfiles covers every rule passing and failing somewhere; one environment in three needs the third
// collection step (a service user that is not an application user).
var scanProfiles = []profile{
	{sku: "Production", location: "unitedstates", appUser: true, appRoles: both, serviceUser: "app", version: "3.6.2.0"},
	{sku: "Sandbox", location: "unitedstates", appUser: true, appRoles: both, serviceUser: "app", version: "3.7.0.0"},
	{sku: "Production", location: "unitedstates", appUser: true, appRoles: both, serviceUser: "legacy", version: "3.5.4.0", failedJobs: 2, orphans: true},
	{sku: "Production", location: "europe", appUser: true, appRoles: both, serviceUser: "app", version: "3.6.0.0"},
	{sku: "Sandbox", location: "unitedstates", appUser: true, appRoles: []string{"Work 365 Service"}, serviceUser: "app", version: "3.6.2.0"},
	{sku: "Trial", location: "unitedstates", appUser: true, appRoles: []string{"Work 365 Portal Service"}, serviceUser: "", version: "3.4.9.0"},
	{sku: "Production", location: "unitedstates", appUser: true, appRoles: append([]string{"System Administrator"}, both...), serviceUser: "app", version: "3.6.2.0", failedJobs: 1},
	{sku: "Developer", location: "unitedstates", appUser: true, appRoles: both, appDisabled: true, serviceUser: "app", version: "3.6.2.0"},
	{sku: "Production", location: "europe", appUser: false, serviceUser: "legacy", version: "3.5.0.0", orphans: true},
	{sku: "Sandbox", location: "europe", appUser: true, appRoles: both, serviceUser: "legacy", version: "3.6.2.0", failedJobs: 1},
}

// fixProfiles need two to five automatic steps each (create, enable, assign roles, switch the service user,
// clear the cache); they are sandboxes, so no production gate holds them back.
var fixProfiles = []profile{
	{sku: "Sandbox", location: "unitedstates", appUser: true, appRoles: []string{"Work 365 Service"}, serviceUser: "legacy", version: "3.6.2.0"},
	{sku: "Sandbox", location: "unitedstates", appUser: false, serviceUser: "legacy", version: "3.6.2.0"},
	{sku: "Sandbox", location: "europe", appUser: true, appRoles: both, appDisabled: true, serviceUser: "app", version: "3.6.2.0"},
	{sku: "Sandbox", location: "unitedstates", appUser: true, appRoles: nil, serviceUser: "", version: "3.7.0.0"},
}

// Tenant generates the fixture of a tenant: N environments, each with its users (humans in two business
// units, application users, a legacy human service account), the roles of both business units, the Work 365
// solution and settings row, and the evidence tables (system jobs, flows, connection references, templates).
func Tenant(spec Spec) *emulator.Fixture {
	spec = spec.withDefaults()
	if spec.Tenants > 1 || spec.Work365Share < 1 {
		return Fleet(spec)[0]
	}
	f := &emulator.Fixture{
		Tenant:  emulator.TenantInfo{ID: TenantID, Name: TenantName, Domain: TenantName + ".onmicrosoft.com"},
		Clients: []emulator.Client{{Name: "Compliance Auditor", ClientID: ClientID, Secret: ClientSecret}},
		ServicePrincipals: []emulator.ServicePrincipal{
			{AppID: USAppID, Name: "Work 365"}, {AppID: EUAppID, Name: "Work 365 EU"},
		},
		Environments: make([]emulator.Environment, spec.Environments),
	}
	profiles := scanProfiles
	if spec.Fixable {
		profiles = fixProfiles
	}
	for i := range f.Environments {
		f.Environments[i] = environment(spec, i, profiles[i%len(profiles)])
	}
	return f
}

func environment(spec Spec, i int, p profile) emulator.Environment {
	domain := fmt.Sprintf("bench%04d", i)
	region := map[string]string{"unitedstates": "westus", "europe": "westeurope"}[p.location]
	appID := USAppID
	if p.location == "europe" {
		appID = EUAppID
	}
	dv := &emulator.Dataverse{
		Domain:        domain,
		Version:       "9.2.25101.00150",
		BusinessUnits: []emulator.BusinessUnit{{Name: domain}, {Name: "Sales", Parent: domain}},
		Roles:         roles,
	}
	zero, four := 0, 4
	no := false
	// The auditor's own application user, then the Work 365 one, then other integrations: AppUsers in all.
	dv.Users = append(dv.Users, emulator.User{Key: "auditor", FullName: "# Compliance Auditor", ApplicationID: ClientID,
		AccessMode: &four, IsLicensed: &no, Roles: []string{"System Administrator"}})
	apps := 1
	if p.appUser {
		dv.Users = append(dv.Users, emulator.User{Key: "w365", FullName: "# Work 365", ApplicationID: appID, AccessMode: &four,
			IsLicensed: &no, IsDisabled: p.appDisabled, Roles: p.appRoles})
		apps++
	}
	for k := 0; apps < spec.AppUsers; k++ {
		dv.Users = append(dv.Users, emulator.User{Key: fmt.Sprintf("app%02d", k), FullName: fmt.Sprintf("# Integration %02d", k),
			ApplicationID: guid("integration", k), AccessMode: &four, IsLicensed: &no, Roles: []string{"Basic User"}})
		apps++
	}
	// People: the legacy service account first, then staff; one in ten has left (disabled).
	staff := spec.Users - spec.AppUsers - 1
	owner := func(k int) string { return fmt.Sprintf("u%03d", k%max(staff, 1)) }
	yes := true
	dv.Users = append(dv.Users, emulator.User{Key: "svc", FullName: "Work 365 Service Account",
		DomainName: "svc-work365@" + TenantName + ".onmicrosoft.com", IsLicensed: &yes, AccessMode: &zero,
		Roles: []string{"Work 365 Service", "Basic User"}})
	for k := 0; len(dv.Users) < spec.Users; k++ {
		u := emulator.User{Key: fmt.Sprintf("u%03d", k), FullName: fmt.Sprintf("Staff Member %03d", k),
			DomainName: fmt.Sprintf("staff%03d@%s.onmicrosoft.com", k, TenantName), IsLicensed: &yes,
			IsDisabled: k%10 == 9, Roles: []string{"Basic User"}}
		if k%2 == 1 {
			u.BusinessUnit = "Sales"
			u.Roles = append(u.Roles, "Salesperson")
		}
		if k%25 == 0 {
			u.Roles = append(u.Roles, "Work 365 Admin")
		}
		if k == 0 {
			u.Roles = []string{"System Administrator"}
		}
		dv.Users = append(dv.Users, u)
	}
	if p.version != "" {
		dv.Solutions = []emulator.Solution{{UniqueName: "Work365", FriendlyName: "Work 365", Version: p.version, IsManaged: true,
			InstalledOn: "2025-06-01T00:00:00Z"}}
		su := map[string]string{"app": "w365", "legacy": "svc", "": ""}[p.serviceUser]
		if su == "w365" && !p.appUser {
			su = "svc"
		}
		dv.Work365 = &emulator.Work365{ServiceUser: &su}
	}
	dv.Solutions = append(dv.Solutions, emulator.Solution{UniqueName: "msdynce_Sales", FriendlyName: "Dynamics 365 Sales",
		Version: "9.0.2405.1", IsManaged: true})
	jobOwner := "w365"
	if p.serviceUser != "app" || !p.appUser {
		jobOwner = "svc"
	}
	for k := 0; k < 12; k++ {
		dv.AsyncOperations = append(dv.AsyncOperations, emulator.AsyncOperation{Name: "Work 365 - Sync Subscriptions",
			StateCode: 3, StatusCode: 30, Created: fmt.Sprintf("-%dh", 6+k*12), Owner: jobOwner})
	}
	for k := 0; k < p.failedJobs; k++ {
		dv.AsyncOperations = append(dv.AsyncOperations, emulator.AsyncOperation{Name: "Work 365 - Generate Invoices",
			StateCode: 3, StatusCode: 31, Created: fmt.Sprintf("-%dd", 1+k*2), Owner: jobOwner,
			Message: "Principal user is missing prvReadw365_subscription privilege."})
	}
	dv.AsyncOperations = append(dv.AsyncOperations,
		emulator.AsyncOperation{Name: "Bulk Delete Completed Activities", StateCode: 3, StatusCode: 31, Created: "-1d", Owner: owner(0),
			Message: "Not a Work 365 job."},
		emulator.AsyncOperation{Name: "Work 365 - Generate Invoices", StateCode: 3, StatusCode: 31, Created: "-20d", Owner: jobOwner,
			Message: "Outside the lookback window."})
	for k := 0; k < 10; k++ {
		dv.Workflows = append(dv.Workflows, emulator.Workflow{Name: fmt.Sprintf("Sales flow %02d", k), Category: 5, StateCode: 1,
			Owner: owner(2 * k)})
	}
	dv.Workflows = append(dv.Workflows,
		emulator.Workflow{Name: "Work 365 - Invoice Email", Category: 5, StateCode: 1, Owner: jobOwner},
		emulator.Workflow{Name: "Approve discount (classic workflow)", Category: 0, StateCode: 1, Owner: owner(9)})
	for k := 0; k < 4; k++ {
		dv.ConnectionReferences = append(dv.ConnectionReferences, emulator.ConnectionReference{
			LogicalName: fmt.Sprintf("new_shared%02d", k), DisplayName: fmt.Sprintf("Shared connection %02d", k),
			ConnectorID: "/providers/Microsoft.PowerApps/apis/shared_office365", Owner: owner(2 * k)})
	}
	for k := 0; k < 6; k++ {
		dv.Templates = append(dv.Templates, emulator.Template{Title: fmt.Sprintf("Sales letter %02d", k), TemplateTypeCode: "systemuser",
			Owner: owner(2 * k)})
	}
	if p.orphans {
		// Staff member 9 has left (one in ten is disabled).
		dv.Workflows = append(dv.Workflows, emulator.Workflow{Name: "Work 365 - Renewal Reminder", Category: 5, StateCode: 1, Owner: owner(9)})
		dv.ConnectionReferences = append(dv.ConnectionReferences, emulator.ConnectionReference{LogicalName: "w365_sharedoffice365",
			DisplayName: "Office 365 Outlook (Work 365)", ConnectorID: "/providers/Microsoft.PowerApps/apis/shared_office365", Owner: owner(9)})
		dv.Templates = append(dv.Templates, emulator.Template{Title: "Invoice Notification", TemplateTypeCode: "systemuser", Owner: "svc"})
	}
	return emulator.Environment{
		Name: EnvironmentName(i), ID: guid("environment", i), SKU: p.sku, Location: p.location, AzureRegion: region,
		Dataverse: dv,
	}
}

// guid derives a stable GUID from a kind and an index, so that two runs generate the same tenant.
func guid(kind string, i int) string {
	var h uint64 = 14695981039346656037
	for _, b := range []byte(kind + "/" + fmt.Sprint(i)) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	lo := h * 0x9e3779b97f4a7c15
	s := fmt.Sprintf("%016x%016x", h, lo)
	return strings.Join([]string{s[0:8], s[8:12], "4" + s[13:16], "8" + s[17:20], s[20:32]}, "-")
}
