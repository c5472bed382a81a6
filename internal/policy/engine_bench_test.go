package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/work365/audit/internal/snapshot"
)

// benchSnapshot is one tenant of n environments shaped like what the collectors read from the generated
// benchmark tenant (internal/bench): compliant ones, a legacy human service account with failed jobs and
// orphaned flows, a wrong-region application user, missing and extra roles, an old Work 365, a disabled
// application user; a third of them production, a third sandboxes.
func benchSnapshot(n int) *snapshot.Snapshot {
	when := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	role := func(bu, name string) snapshot.Role {
		return snapshot.Role{ID: fmt.Sprintf("%s-%s", bu, name), Name: name, BusinessUnitID: bu}
	}
	envs := make([]snapshot.Environment, n)
	for i := range envs {
		bu := &snapshot.BusinessUnit{ID: fmt.Sprintf("bu-%04d", i), Name: fmt.Sprintf("bench%04d", i)}
		appID, region := usApp, "unitedstates"
		if i%10 == 3 || i%10 == 8 {
			appID, region = euApp, "europe"
		}
		app := snapshot.User{ID: fmt.Sprintf("app-%04d", i), FullName: "# Work 365", ApplicationID: appID, AccessMode: 4,
			DomainName: appID + "@bench.onmicrosoft.com", BusinessUnit: bu,
			Roles: []snapshot.Role{role(bu.ID, "Work 365 Service"), role(bu.ID, "Work 365 Portal Service")}}
		legacy := snapshot.User{ID: fmt.Sprintf("svc-%04d", i), FullName: "Work 365 Service Account", Licensed: true,
			DomainName: "svc-work365@bench.onmicrosoft.com", BusinessUnit: bu, Roles: []snapshot.Role{role(bu.ID, "Work 365 Service")}}
		dv := &snapshot.Dataverse{
			RootBusinessUnit:   bu,
			Work365:            snapshot.Solution{Installed: true, UniqueName: "Work365", FriendlyName: "Work 365", Version: "3.6.2.0", Managed: true},
			ServiceRoleHolders: []snapshot.User{legacy},
			FailedJobs:         snapshot.FailedJobs{LookbackDays: 7, Since: when.AddDate(0, 0, -7), Recent: []snapshot.Job{}},
			Flows:              []snapshot.Flow{}, ConnectionReferences: []snapshot.ConnectionReference{}, EmailTemplates: []snapshot.EmailTemplate{},
		}
		typ := []string{"Production", "Sandbox", "Production", "Production", "Sandbox", "Trial", "Production", "Developer", "Production", "Sandbox"}[i%10]
		serviceUser := &app
		switch i % 10 {
		case 2, 8, 9:
			serviceUser = &legacy
			dv.FailedJobs.Count = 2
			dv.FailedJobs.Recent = []snapshot.Job{{ID: "job-1", Name: "Work 365 - Generate Invoices", Message: "Principal user is missing prvReadw365_subscription privilege.",
				CreatedOn: when.AddDate(0, 0, -1), OwnerID: legacy.ID}}
			owner := snapshot.Owner{ID: "former", Name: "Staff Member 009", DomainName: "staff009@bench.onmicrosoft.com", Disabled: true}
			dv.Flows = []snapshot.Flow{{ID: "flow-1", Name: "Work 365 - Renewal Reminder", State: 1, Owner: owner}}
			dv.ConnectionReferences = []snapshot.ConnectionReference{{ID: "cr-1", LogicalName: "w365_sharedoffice365", DisplayName: "Office 365 Outlook (Work 365)", Owner: owner}}
			dv.EmailTemplates = []snapshot.EmailTemplate{{ID: "t-1", Title: "Invoice Notification", Owner: snapshot.Owner{ID: legacy.ID, Name: legacy.FullName, HoldsServiceRole: true}}}
		case 4:
			app.Roles = app.Roles[:1]
		case 5:
			dv.Work365.Version = "3.4.9.0"
			app.Roles = app.Roles[1:]
			serviceUser = nil
		case 6:
			app.Roles = append(app.Roles, role(bu.ID, "System Administrator"))
		case 7:
			app.Disabled = true
		}
		if i%10 != 8 {
			dv.ApplicationUsers = []snapshot.User{app}
		} else {
			dv.ApplicationUsers = []snapshot.User{}
		}
		if serviceUser != nil {
			u := *serviceUser
			dv.ServiceUser = snapshot.ServiceUser{Configured: true, SettingID: "setting", UserID: u.ID, User: &u}
		}
		envs[i] = snapshot.Environment{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("Bench %04d", i), Type: typ,
			Region: region, State: "Enabled", HasDataverse: true, Status: snapshot.StatusOK, Dataverse: dv,
			InstanceURL: fmt.Sprintf("https://bench%04d.crm.dynamics.com/", i)}
	}
	return &snapshot.Snapshot{SchemaVersion: snapshot.SchemaVersion, CollectedAt: when,
		Tenants: []snapshot.Tenant{{Name: "bench", ID: "tenant", Environments: envs}}}
}

// BenchmarkEvaluate evaluates every rule on snapshots of 100 and 1,000 environments: the time and
// allocations per environment are the figures to watch (ns/env, B/env, allocs/env).
func BenchmarkEvaluate(b *testing.B) {
	eng, err := Load(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000} {
		snap := benchSnapshot(n)
		for _, workers := range []int{1, 0} {
			name := fmt.Sprintf("envs=%d/workers=%d", n, workers)
			if workers == 0 {
				name = fmt.Sprintf("envs=%d/workers=all", n)
			}
			b.Run(name, func(b *testing.B) {
				e := *eng
				if workers > 0 {
					e.workers = workers
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := e.Evaluate(context.Background(), snap, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/env")
			})
		}
	}
}
