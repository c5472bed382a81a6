package drift

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

const usApp = "e4b1a995-abe3-4350-a61c-65fccd32e8bd"

var (
	t0      = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	t1      = t0.Add(6 * time.Hour)
	engOnce = sync.OnceValues(func() (*policy.Engine, error) { return policy.Load(context.Background(), policy.Options{}) })
)

// compliant is an environment that passes every environment-scoped rule.
func compliant(id, name, typ string) snapshot.Environment {
	app := snapshot.User{ID: id + "-app", FullName: "# Work 365", ApplicationID: usApp, AccessMode: 4,
		BusinessUnit: &snapshot.BusinessUnit{ID: id + "-bu", Name: "root"},
		Roles: []snapshot.Role{{ID: "r1", Name: "Work 365 Portal Service", BusinessUnitID: id + "-bu"},
			{ID: "r2", Name: "Work 365 Service", BusinessUnitID: id + "-bu"}}}
	return snapshot.Environment{
		ID: id, Name: name, Type: typ, Region: "unitedstates", HasDataverse: true, Status: snapshot.StatusOK,
		Dataverse: &snapshot.Dataverse{
			RootBusinessUnit: &snapshot.BusinessUnit{ID: id + "-bu", Name: "root"},
			Work365:          snapshot.Solution{Installed: true, UniqueName: "Work365", Version: "3.6.0.0"},
			ApplicationUsers: []snapshot.User{app},
			ServiceUser:      snapshot.ServiceUser{Configured: true, UserID: app.ID, User: &app},
			FailedJobs:       snapshot.FailedJobs{LookbackDays: 7, Recent: []snapshot.Job{}},
		},
	}
}

// tenant is the starting point of every pair: a compliant production environment and sandbox.
func tenant() []snapshot.Tenant {
	return []snapshot.Tenant{{Name: "contoso", ID: "tid", Environments: []snapshot.Environment{
		compliant("e1", "Prod", "Production"), compliant("e2", "Sandbox", "Sandbox")}}}
}

func env(ts []snapshot.Tenant, id string) *snapshot.Environment {
	for ti := range ts {
		for ei := range ts[ti].Environments {
			if ts[ti].Environments[ei].ID == id {
				return &ts[ti].Environments[ei]
			}
		}
	}
	panic("no environment " + id)
}

func appUser(e *snapshot.Environment) *snapshot.User { return &e.Dataverse.ApplicationUsers[0] }

// syncServiceUser points the service user at the (changed) application user again.
func syncServiceUser(e *snapshot.Environment) {
	u := *appUser(e)
	e.Dataverse.ServiceUser.User = &u
}

// scan evaluates tenants with the real rules and builds the report, as a scan does.
func scan(t *testing.T, at time.Time, ts []snapshot.Tenant, waivers ...policy.Waiver) *report.Report {
	t.Helper()
	eng, err := engOnce()
	require.NoError(t, err)
	snap := &snapshot.Snapshot{SchemaVersion: 1, CollectedAt: at, Tenants: ts}
	snap.Sort()
	ws := policy.NewWaivers(waivers, at)
	rs, err := eng.Evaluate(context.Background(), snap, ws.Apply)
	require.NoError(t, err)
	return report.Build(report.Input{Snapshot: snap, Results: rs, Rules: eng.Rules(), PolicyConfig: eng.Config(),
		Digest: eng.Digest(), GeneratedAt: at, FailOn: "high"})
}

// summary flattens a drift to lines that read like the report.
func summary(d *report.Drift) map[string][]string {
	out := map[string][]string{}
	for name, list := range map[string][]report.DriftResult{"new": d.NewFailures, "resolved": d.Resolved, "persisting": d.Persisting} {
		for _, r := range list {
			out[name] = append(out[name], fmt.Sprintf("%s %s %s", r.Environment, r.RuleID, r.Status))
		}
	}
	for _, c := range d.Inventory {
		out["inventory"] = append(out["inventory"], c.Environment+": "+c.Describe())
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func TestCompareClassifiesCraftedPairs(t *testing.T) {
	t.Parallel()
	human := snapshot.User{ID: "p1", FullName: "Pat Doe", DomainName: "pat@contoso.com", Licensed: true,
		BusinessUnit: &snapshot.BusinessUnit{ID: "e1-bu", Name: "root"}}
	cases := []struct {
		name          string
		before, after func(ts []snapshot.Tenant) []snapshot.Tenant
		waivers       []policy.Waiver
		want          map[string][]string
	}{
		{name: "nothing changed", want: map[string][]string{}},
		{name: "role removed from the application user",
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e1")
				appUser(e).Roles = appUser(e).Roles[1:]
				syncServiceUser(e)
				return ts
			},
			want: map[string][]string{
				"new":       {"Prod W365.ROLES.2 fail"},
				"inventory": {`Prod: role "Work 365 Portal Service" removed from the application user`},
			}},
		{name: "role restored",
			before: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e1")
				appUser(e).Roles = appUser(e).Roles[1:]
				syncServiceUser(e)
				return ts
			},
			want: map[string][]string{
				"resolved":  {"Prod W365.ROLES.2 pass"},
				"inventory": {`Prod: role "Work 365 Portal Service" added to the application user`},
			}},
		{name: "service user changed to a licensed person",
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e1")
				e.Dataverse.ServiceUser = snapshot.ServiceUser{Configured: true, UserID: human.ID, User: &human}
				return ts
			},
			want: map[string][]string{
				"new":       {"Prod W365.SERVICE.1 fail", "Prod W365.SERVICE.2 fail"},
				"inventory": {`Prod: service user changed from "# Work 365" to "Pat Doe (pat@contoso.com)"`},
			}},
		{name: "application user disabled",
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e1")
				appUser(e).Disabled = true
				syncServiceUser(e)
				return ts
			},
			want: map[string][]string{
				"new":       {"Prod W365.APPUSER.3 fail", "Prod W365.SERVICE.3 fail"},
				"inventory": {`Prod: application user "# Work 365" disabled`},
			}},
		{name: "Work 365 upgraded past the minimum version",
			before: func(ts []snapshot.Tenant) []snapshot.Tenant {
				env(ts, "e2").Dataverse.Work365.Version = "3.4.9.0"
				return ts
			},
			want: map[string][]string{
				"resolved":  {"Sandbox W365.INSTALL.1 pass"},
				"inventory": {"Sandbox: Work 365 upgraded from 3.4.9.0 to 3.6.0.0"},
			}},
		{name: "environments added and removed",
			before: func(ts []snapshot.Tenant) []snapshot.Tenant {
				ts[0].Environments = append(ts[0].Environments, compliant("e9", "Old", "Sandbox"))
				return ts
			},
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				ts[0].Environments = append(ts[0].Environments, compliant("e3", "New", "Developer"))
				return ts
			},
			want: map[string][]string{"inventory": {"New: environment added", "Old: environment removed"}}},
		{name: "a failure that can no longer be read is neither resolved nor persisting",
			before: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e2")
				appUser(e).Roles = appUser(e).Roles[1:]
				syncServiceUser(e)
				return ts
			},
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e2")
				e.Status, e.Dataverse = snapshot.StatusError, nil
				e.Error = &snapshot.Error{Stage: "systemusers", Message: "HTTP 403"}
				return ts
			},
			want: map[string][]string{"new": {"Prod W365.GOV.1 fail"}}},
		{name: "a tenant whose environments could not be listed loses none of them",
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				ts[0].Environments = []snapshot.Environment{}
				ts[0].Error = &snapshot.Error{Stage: "environments", Message: "HTTP 403"}
				return ts
			},
			want: map[string][]string{}},
		{name: "a failure waived now counts as resolved, with its status",
			before: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e2")
				appUser(e).Roles = appUser(e).Roles[1:]
				syncServiceUser(e)
				return ts
			},
			after: func(ts []snapshot.Tenant) []snapshot.Tenant {
				e := env(ts, "e2")
				appUser(e).Roles = appUser(e).Roles[1:]
				syncServiceUser(e)
				return ts
			},
			waivers: []policy.Waiver{{Rule: "W365.ROLES.2", Environment: "Sandbox", Reason: "r", Owner: "o", Expires: t1.AddDate(0, 1, 0)}},
			want:    map[string][]string{"resolved": {"Sandbox W365.ROLES.2 waived"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before, after := tenant(), tenant()
			if tc.before != nil {
				before = tc.before(before)
			}
			if tc.after != nil {
				after = tc.after(after)
			}
			d := Compare(Scan{Report: scan(t, t0, before), RunID: 1}, Scan{Report: scan(t, t1, after, tc.waivers...), RunID: 2})
			assert.Equal(t, tc.want, summary(d))
			assert.Equal(t, len(d.NewFailures), d.Summary.NewFailures)
			assert.Equal(t, len(d.Inventory), d.Summary.InventoryChanges)
			assert.Equal(t, int64(1), d.Baseline.RunID)
		})
	}
}

// A failure that persists keeps the time it was first seen, across any number of scans.
func TestPersistingFailuresKeepWhenTheyWereFirstSeen(t *testing.T) {
	t.Parallel()
	broken := func() []snapshot.Tenant {
		ts := tenant()
		e := env(ts, "e1")
		appUser(e).Roles = appUser(e).Roles[1:]
		syncServiceUser(e)
		return ts
	}
	first := Scan{Report: scan(t, t0, broken()), RunID: 1}
	first.FirstSeen = FirstSeen(nil, first)
	k := Key{EnvironmentID: "e1", RuleID: "W365.ROLES.2"}
	assert.Equal(t, Seen{At: t0, RunID: 1}, first.FirstSeen[k])

	second := Scan{Report: scan(t, t1, broken()), RunID: 2}
	second.FirstSeen = FirstSeen(&first, second)
	third := Scan{Report: scan(t, t1.Add(48*time.Hour), broken()), RunID: 3}
	d := Compare(second, third)
	require.Len(t, d.Persisting, 1)
	p := d.Persisting[0]
	assert.Equal(t, "W365.ROLES.2", p.RuleID)
	assert.Equal(t, t0, p.FirstSeen)
	assert.Equal(t, int64(1), p.FirstSeenRun)
	assert.Equal(t, &t0, d.Summary.OldestFirstSeen)
	assert.Equal(t, "2 days", report.Age(p.FirstSeen, third.Report.CollectedAt))
	assert.Equal(t, "0 new failures, 0 resolved, 1 persisting (oldest since 26 Nov 2026), 0 inventory changes since run 2 (26 November 2026, 12:00 UTC)", d.Line())

	// Once resolved, the failure's history ends: failing again later is a new failure seen then.
	fixed := Scan{Report: scan(t, t1.Add(72*time.Hour), tenant()), RunID: 4}
	again := Scan{Report: scan(t, t1.Add(96*time.Hour), broken()), RunID: 5}
	seen := FirstSeen(&fixed, again)
	assert.Equal(t, Seen{At: t1.Add(96 * time.Hour), RunID: 5}, seen[k])
}

func TestVersionsCompareNumerically(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{{"3.5", "3.5.0.0", 0}, {"3.10.0", "3.9.9", 1}, {"3.4.9.0", "3.6.2.0", -1}, {"3.6-beta", "3.6-rc", -1}} {
		assert.Equal(t, c.want, compareVersions(c.a, c.b), "%s vs %s", c.a, c.b)
	}
}
