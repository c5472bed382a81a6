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
	return report.Build(report.Input{Snapshot: snap, Results: rs, Rules: eng.Rules(), AppIDs: eng.Settings().AppIDs, Regions: eng.Settings().Regions,
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

// Mutations of tenant() for the outage tests.
func brokenRoles(id string) func([]snapshot.Tenant) {
	return func(ts []snapshot.Tenant) {
		e := env(ts, id)
		appUser(e).Roles = appUser(e).Roles[1:]
		syncServiceUser(e)
	}
}

func disabledUser(id string) func([]snapshot.Tenant) {
	return func(ts []snapshot.Tenant) {
		e := env(ts, id)
		appUser(e).Disabled = true
		syncServiceUser(e)
	}
}

func unreadable(id string) func([]snapshot.Tenant) {
	return func(ts []snapshot.Tenant) {
		e := env(ts, id)
		e.Status, e.Dataverse = snapshot.StatusError, nil
		e.Error = &snapshot.Error{Stage: "whoami", Message: "HTTP 403"}
	}
}

func tenantUnlisted(ts []snapshot.Tenant) {
	ts[0].Environments = []snapshot.Environment{}
	ts[0].Error = &snapshot.Error{Stage: "environments", Message: "HTTP 403"}
}

func extra(id, name string, fs ...func([]snapshot.Tenant)) func([]snapshot.Tenant) {
	return func(ts []snapshot.Tenant) {
		ts[0].Environments = append(ts[0].Environments, compliant(id, name, "Developer"))
		for _, f := range fs {
			f(ts)
		}
	}
}

func deleted(id string) func([]snapshot.Tenant) {
	return func(ts []snapshot.Tenant) {
		for i, e := range ts[0].Environments {
			if e.ID == id {
				ts[0].Environments = append(ts[0].Environments[:i], ts[0].Environments[i+1:]...)
				return
			}
		}
		panic("no environment " + id)
	}
}

// history records scans as a history does, six hours apart: each is compared with the one before, and
// keeps when its failures were first seen and what last read what it could not read. It returns the scans
// and the drift of each (nil for the first).
func history(t *testing.T, steps ...[]func([]snapshot.Tenant)) ([]*Scan, []*report.Drift) {
	t.Helper()
	var scans []*Scan
	var drifts []*report.Drift
	var prev *Scan
	for i, fs := range steps {
		ts := tenant()
		for _, f := range fs {
			f(ts)
		}
		cur := &Scan{Report: scan(t, t0.Add(time.Duration(i)*6*time.Hour), ts), RunID: int64(i + 1)}
		var d *report.Drift
		if prev != nil {
			d = Compare(*prev, *cur)
		}
		cur.FirstSeen, cur.LastRead = FirstSeen(prev, *cur), Unread(prev, *cur)
		scans, drifts, prev = append(scans, cur), append(drifts, d), cur
	}
	return scans, drifts
}

// baselines lists the entries of a drift compared with an earlier scan than its baseline, with that scan.
func baselines(d *report.Drift) map[string]int64 {
	out := map[string]int64{}
	for _, list := range [][]report.DriftResult{d.NewFailures, d.Resolved, d.Persisting} {
		for _, r := range list {
			if r.Baseline != nil {
				out[r.Environment+" "+r.RuleID] = r.Baseline.RunID
			}
		}
	}
	for _, c := range d.Inventory {
		if c.Baseline != nil {
			out[c.Environment+": "+c.Describe()] = c.Baseline.RunID
		}
	}
	return out
}

// Each pair is compared with the last scan that read it: an outage (an environment in error, a tenant whose
// environments could not be listed) is never the baseline of what it could not read.
func TestEachPairIsComparedWithTheLastScanThatReadIt(t *testing.T) {
	t.Parallel()
	type step = []func([]snapshot.Tenant)
	cases := []struct {
		name      string
		steps     []step
		want      map[string][]string // the last scan's drift
		baselines map[string]int64    // its entries compared with an earlier scan than the previous one
	}{
		{name: "a failure that persists through an environment's outage",
			steps: []step{{brokenRoles("e2")}, {unreadable("e2")}, {brokenRoles("e2")}},
			// GOV.1 failed in the outage (no sandbox could be read) and passes again: that run read it.
			want:      map[string][]string{"persisting": {"Sandbox W365.ROLES.2 fail"}, "resolved": {"Prod W365.GOV.1 pass"}},
			baselines: map[string]int64{"Sandbox W365.ROLES.2": 1}},
		{name: "a failure resolved during an environment's outage",
			steps:     []step{{disabledUser("e1")}, {unreadable("e1")}, {}},
			want:      map[string][]string{"resolved": {"Prod W365.APPUSER.3 pass", "Prod W365.SERVICE.3 pass"}, "inventory": {`Prod: application user "# Work 365" enabled`}},
			baselines: map[string]int64{"Prod W365.APPUSER.3": 1, "Prod W365.SERVICE.3": 1, `Prod: application user "# Work 365" enabled`: 1}},
		{name: "a failure that starts during an environment's outage",
			steps:     []step{{}, {unreadable("e1")}, {brokenRoles("e1")}},
			want:      map[string][]string{"new": {"Prod W365.ROLES.2 fail"}, "inventory": {`Prod: role "Work 365 Portal Service" removed from the application user`}},
			baselines: map[string]int64{"Prod W365.ROLES.2": 1, `Prod: role "Work 365 Portal Service" removed from the application user`: 1}},
		{name: "a whole tenant's outage over two scans",
			steps: []step{{brokenRoles("e2"), disabledUser("e1")}, {tenantUnlisted}, {tenantUnlisted}, {brokenRoles("e2")}},
			want: map[string][]string{"persisting": {"Sandbox W365.ROLES.2 fail"}, "resolved": {"Prod W365.APPUSER.3 pass", "Prod W365.SERVICE.3 pass"},
				"inventory": {`Prod: application user "# Work 365" enabled`}},
			baselines: map[string]int64{"Sandbox W365.ROLES.2": 1, "Prod W365.APPUSER.3": 1, "Prod W365.SERVICE.3": 1,
				`Prod: application user "# Work 365" enabled`: 1}},
		{name: "environments added and removed while a tenant could not be listed",
			steps:     []step{{extra("e3", "Old")}, {tenantUnlisted}, {extra("e4", "New", brokenRoles("e4"))}},
			want:      map[string][]string{"new": {"New W365.ROLES.2 fail"}, "inventory": {"New: environment added", "Old: environment removed"}},
			baselines: map[string]int64{"New: environment added": 1, "Old: environment removed": 1}},
		{name: "an environment deleted is not an outage: back again, its failures are new",
			steps:     []step{{extra("e3", "Dev", brokenRoles("e3"))}, {}, {extra("e3", "Dev", brokenRoles("e3"))}},
			want:      map[string][]string{"new": {"Dev W365.ROLES.2 fail"}, "inventory": {"Dev: environment added"}},
			baselines: map[string]int64{}},
		{name: "an environment never read before has no baseline",
			steps:     []step{{unreadable("e2")}, {brokenRoles("e2")}},
			want:      map[string][]string{"new": {"Sandbox W365.ROLES.2 fail"}, "resolved": {"Prod W365.GOV.1 pass"}},
			baselines: map[string]int64{}},
		{name: "the outage run itself reports nothing of what it could not read",
			steps:     []step{{brokenRoles("e2"), disabledUser("e1")}, {tenantUnlisted}},
			want:      map[string][]string{},
			baselines: map[string]int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, drifts := history(t, tc.steps...)
			d := drifts[len(drifts)-1]
			assert.Equal(t, tc.want, summary(d))
			assert.Equal(t, tc.baselines, baselines(d))
			assert.Equal(t, int64(len(drifts)-1), d.Baseline.RunID, "the drift's baseline is the previous scan")
		})
	}
}

// First-seen dates survive outages, however long, and the failure's history still ends when it is resolved.
func TestFirstSeenSurvivesOutages(t *testing.T) {
	t.Parallel()
	scans, drifts := history(t,
		[]func([]snapshot.Tenant){brokenRoles("e2")},
		[]func([]snapshot.Tenant){unreadable("e2")},
		[]func([]snapshot.Tenant){tenantUnlisted},
		[]func([]snapshot.Tenant){unreadable("e2")},
		[]func([]snapshot.Tenant){brokenRoles("e2")},
		[]func([]snapshot.Tenant){},
		[]func([]snapshot.Tenant){unreadable("e2")},
		[]func([]snapshot.Tenant){brokenRoles("e2")},
	)
	k := Key{EnvironmentID: "e2", RuleID: "W365.ROLES.2"}
	assert.Equal(t, Seen{At: t0, RunID: 1}, scans[4].FirstSeen[k])
	require.Len(t, drifts[4].Persisting, 1)
	p := drifts[4].Persisting[0]
	assert.Equal(t, t0, p.FirstSeen)
	assert.Equal(t, int64(1), p.FirstSeenRun)
	assert.Equal(t, &report.Baseline{RunID: 1, CollectedAt: t0}, p.Baseline)
	assert.Equal(t, &t0, drifts[4].Summary.OldestFirstSeen)
	// GOV.1 failed in run 4, which could not read the sandbox, and passes again: run 4 read it.
	assert.Equal(t, "0 new failures, 1 resolved, 1 persisting (oldest since 26 Nov 2026), 0 inventory changes since run 4 (27 November 2026, 00:00 UTC); "+
		"1 entry compared with run 1 (26 November 2026, 06:00 UTC), the last scan that could read it", drifts[4].Line())

	// Resolved in run 6, unreadable in run 7, failing again in run 8: a new failure, first seen in run 8.
	assert.Equal(t, []string{"Sandbox W365.ROLES.2 pass"}, summary(drifts[5])["resolved"])
	assert.Equal(t, []string{"Sandbox W365.ROLES.2 fail"}, summary(drifts[7])["new"])
	assert.Equal(t, Seen{At: t0.Add(42 * time.Hour), RunID: 8}, scans[7].FirstSeen[k])
}

// What a scan could not read points at the scan that last read it, through any number of outages; what it
// read, or found gone, is not in it.
func TestUnreadNamesTheLastScanThatReadEachThing(t *testing.T) {
	t.Parallel()
	scans, _ := history(t,
		[]func([]snapshot.Tenant){extra("e3", "Dev")},
		[]func([]snapshot.Tenant){extra("e3", "Dev"), unreadable("e2")},
		[]func([]snapshot.Tenant){tenantUnlisted},
		[]func([]snapshot.Tenant){deleted("e1")},
	)
	ids := func(l LastRead) map[string]int64 {
		out := map[string]int64{}
		for k, rd := range l.Pairs {
			if k.RuleID == "W365.ROLES.2" {
				out[rd.Tenant+" "+k.EnvironmentID+" "+k.RuleID] = rd.Scan.RunID
			}
		}
		for id, rd := range l.Environments {
			out[rd.Tenant+" "+id] = rd.Scan.RunID
		}
		for name, s := range l.Tenants {
			out[name] = s.RunID
		}
		return out
	}
	assert.Empty(t, ids(scans[0].LastRead))
	assert.Equal(t, map[string]int64{"contoso e2 W365.ROLES.2": 1, "contoso e2": 1}, ids(scans[1].LastRead))
	assert.Equal(t, map[string]int64{"contoso": 2, "contoso e1 W365.ROLES.2": 2, "contoso e1": 2, "contoso e2 W365.ROLES.2": 1, "contoso e2": 1,
		"contoso e3 W365.ROLES.2": 2, "contoso e3": 2}, ids(scans[2].LastRead))
	assert.Equal(t, 0, scans[3].LastRead.Len(), "e1 was deleted and e3 filtered out while the tenant was listed: not an outage")
}
