package history

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
)

func rep(at time.Time, statuses ...string) *report.Report {
	r := &report.Report{SchemaVersion: 1, CollectedAt: at, GeneratedAt: at, FailOn: "high",
		Summary: report.Summary{Results: report.Counts{}}}
	for i, st := range statuses {
		r.Results = append(r.Results, policy.Result{Tenant: "contoso", EnvironmentID: "E1", EnvironmentName: "Prod",
			RuleID: []string{"W365.ROLES.1", "W365.ROLES.2", "W365.ROLES.3"}[i], Status: policy.Status(st), Severity: "high"})
		r.Summary.Results[policy.Status(st)]++
	}
	return r
}

func record(t *testing.T, s *Store, at time.Time, scope string, r *report.Report, keep Retention) int64 {
	t.Helper()
	id, err := s.NextID(ctx)
	require.NoError(t, err)
	seen := map[[2]string]Seen{}
	if r != nil {
		for _, res := range r.Results {
			if res.Status == policy.StatusFail {
				seen[[2]string{"e1", res.RuleID}] = Seen{At: at, RunID: id}
			}
		}
	}
	status := StatusComplete
	if r == nil {
		status = StatusInterrupted
	}
	_, err = s.Add(ctx, Record{Run: Run{ID: id, StartedAt: at, FinishedAt: at.Add(time.Minute), Status: status, Trigger: "scan", Scope: scope,
		ToolVersion: "v1", ToolDigest: "sha256:t", PolicyDigest: "sha256:p", FailOn: "high", CollectedAt: at},
		Report: r, Snapshot: &snapshot.Snapshot{SchemaVersion: 1, CollectedAt: at, Tenants: []snapshot.Tenant{}}, FirstSeen: seen}, keep)
	require.NoError(t, err)
	return id
}

func TestAStoreIsCreatedOwnerOnlyAndHeldByOneRunAtATime(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "audit")
	path := filepath.Join(dir, "history.db")
	s, err := Acquire(ctx, path, t0)
	require.NoError(t, err)
	for p, mode := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + ".lock": 0o600} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), p)
	}

	_, err = Acquire(ctx, path, t0)
	require.ErrorIs(t, err, ErrBusy)
	assert.Contains(t, err.Error(), "pid ")
	assert.Contains(t, err.Error(), "runs on one history never interleave")

	// Readers do not need the hold.
	r, err := Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, r.Close())

	require.NoError(t, s.Close())
	s2, err := Acquire(ctx, path, t0)
	require.NoError(t, err, "the hold is given back on Close")
	require.NoError(t, s2.Close())
}

func TestRunsRoundTripAndResolveByReference(t *testing.T) {
	t.Parallel()
	s, err := Acquire(ctx, filepath.Join(t.TempDir(), "h.db"), t0)
	require.NoError(t, err)
	defer s.Close()

	_, err = s.Resolve(ctx, "latest")
	assert.ErrorContains(t, err, "no complete run")

	a := record(t, s, t0, "", rep(t0, "pass", "fail", "pass"), Retention{})
	b := record(t, s, t0.Add(6*time.Hour), "shard=1/2", rep(t0, "pass", "pass", "pass"), Retention{})
	i := record(t, s, t0.Add(7*time.Hour), "", nil, Retention{})
	c := record(t, s, t0.Add(12*time.Hour), "", rep(t0.Add(12*time.Hour), "fail", "fail", "pass"), Retention{})
	assert.Equal(t, []int64{1, 2, 3, 4}, []int64{a, b, i, c})

	runs, err := s.Runs(ctx)
	require.NoError(t, err)
	require.Len(t, runs, 4)
	assert.Equal(t, StatusInterrupted, runs[2].Status)
	assert.Equal(t, "shard=1/2", runs[1].Scope)
	assert.Equal(t, t0, runs[0].StartedAt)
	require.NotNil(t, runs[0].Summary)
	assert.Equal(t, 1, runs[0].Summary.Results["fail"])

	latest, err := s.Resolve(ctx, "latest")
	require.NoError(t, err)
	assert.Equal(t, c, latest.ID)
	prev, err := s.Resolve(ctx, "previous")
	require.NoError(t, err)
	assert.Equal(t, a, prev.ID, "the previous complete run of the same scope: not the shard's, not the interrupted one")
	_, err = s.Resolve(ctx, "3")
	assert.ErrorContains(t, err, "run 3 was interrupted")
	_, err = s.Resolve(ctx, "9")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Resolve(ctx, "newest")
	assert.ErrorContains(t, err, "use a run ID, latest or previous")

	base, err := s.Latest(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, c, base.ID)
	_, err = s.Latest(ctx, "env=Contoso*", 0)
	assert.ErrorIs(t, err, ErrNotFound)

	r, err := s.Report(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, policy.StatusFail, r.Results[0].Status)
	snap, err := s.Snapshot(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(12*time.Hour), snap.CollectedAt)
	seen, err := s.FirstSeen(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, map[[2]string]Seen{
		{"e1", "W365.ROLES.1"}: {At: t0.Add(12 * time.Hour), RunID: c},
		{"e1", "W365.ROLES.2"}: {At: t0.Add(12 * time.Hour), RunID: c},
	}, seen)

	require.NoError(t, s.AddNotifications(ctx, c, []Notification{
		{Target: "teams", Type: "teams", Events: []string{"new_failures"}, Status: "sent", Attempts: 1, At: t0},
		{Target: "hook", Type: "webhook", Events: []string{"new_failures"}, Status: "failed", Attempts: 3, Error: "HTTP 500", At: t0},
	}))
	ns, err := s.Notifications(ctx, c)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	assert.Equal(t, "hook", ns[0].Target)
	assert.Equal(t, "HTTP 500", ns[0].Error)
}

func TestRetentionKeepsTheNewestRunsOrTheRecentOnes(t *testing.T) {
	t.Parallel()
	s, err := Acquire(ctx, filepath.Join(t.TempDir(), "h.db"), t0)
	require.NoError(t, err)
	defer s.Close()
	for i := 0; i < 5; i++ {
		record(t, s, t0.Add(time.Duration(i)*24*time.Hour), "", rep(t0, "fail"), Retention{})
	}
	id, err := s.NextID(ctx)
	require.NoError(t, err)
	removed, err := s.Add(ctx, Record{Run: Run{ID: id, StartedAt: t0.Add(5 * 24 * time.Hour), FinishedAt: t0.Add(5 * 24 * time.Hour),
		Status: StatusComplete, Trigger: "scan", FailOn: "high"}, Report: rep(t0, "pass")}, Retention{Keep: 3})
	require.NoError(t, err)
	assert.Equal(t, 3, removed)
	ids := func() []int64 {
		runs, err := s.Runs(ctx)
		require.NoError(t, err)
		var out []int64
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	assert.Equal(t, []int64{4, 5, 6}, ids())
	var results int
	require.NoError(t, s.db.QueryRow("SELECT count(*) FROM results WHERE run_id < 4").Scan(&results))
	assert.Zero(t, results, "the results of removed runs go with them")

	// By age: runs that started more than 36 hours before the new run finished.
	record(t, s, t0.Add(6*24*time.Hour), "", rep(t0, "pass"), Retention{MaxAge: 36 * time.Hour})
	assert.Equal(t, []int64{6, 7}, ids())
}

// A run is written in one transaction: one that fails halfway leaves nothing behind.
func TestARunThatFailsHalfwayLeavesNoRecord(t *testing.T) {
	t.Parallel()
	s, err := Acquire(ctx, filepath.Join(t.TempDir(), "h.db"), t0)
	require.NoError(t, err)
	defer s.Close()
	r := rep(t0, "fail", "pass")
	r.Results[1].RuleID = r.Results[0].RuleID // the second result row breaks the primary key
	_, err = s.Add(ctx, Record{Run: Run{ID: 1, StartedAt: t0, FinishedAt: t0, Status: StatusComplete, Trigger: "scan", FailOn: "high"},
		Report: r, Snapshot: &snapshot.Snapshot{SchemaVersion: 1}}, Retention{})
	require.Error(t, err)
	for _, table := range []string{"runs", "run_data", "results"} {
		var n int
		require.NoError(t, s.db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
		assert.Zero(t, n, table)
	}
}

func TestTheSchemaIsMigratedOnOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	// A store written by a build that knew only the first schema version.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(migrations[0])
	require.NoError(t, err)
	_, err = db.Exec("PRAGMA user_version = 1; INSERT INTO runs (id, started_at, finished_at, status, trigger, scope, tool_version, tool_digest, policy_digest, fail_on) VALUES (1, '2026-11-26T06:00:00.000000000Z', '2026-11-26T06:01:00.000000000Z', 'complete', 'scan', '', 'v0', '', '', 'high')")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(ctx, path)
	require.NoError(t, err)
	var v int
	require.NoError(t, s.db.QueryRow("PRAGMA user_version").Scan(&v))
	assert.Equal(t, SchemaVersion, v)
	runs, err := s.Runs(ctx)
	require.NoError(t, err)
	require.Len(t, runs, 1, "the runs recorded before survive the migration")
	ns, err := s.Notifications(ctx, 1)
	require.NoError(t, err)
	assert.Empty(t, ns)
	lr, err := s.LastRead(ctx, 1)
	require.NoError(t, err)
	assert.Empty(t, lr, "a run recorded before names no earlier run")
	_, err = s.db.Exec("PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, path)
	assert.ErrorContains(t, err, fmt.Sprintf("schema version 99, newer than this build's %d: upgrade audit", SchemaVersion))

	_, err = Open(ctx, filepath.Join(t.TempDir(), "missing.db"))
	assert.ErrorContains(t, err, "no history at")
	junk := filepath.Join(t.TempDir(), "junk.db")
	require.NoError(t, os.WriteFile(junk, []byte("this is not a database, just some text that is long enough to be read as a header..."), 0o600))
	_, err = Open(ctx, junk)
	assert.ErrorContains(t, err, "is not a history file")
}

// fleet is a report of two tenants: contoso (E1 Prod, E2 Sandbox) and fabrikam (F1 Prod). envs gives the
// statuses of W365.ROLES.1 and W365.ROLES.2 by environment; an environment whose both are error could not be
// read. The tenants named in unlisted could not list their environments.
func fleet(at time.Time, envs map[string][2]string, unlisted ...string) *report.Report {
	r := &report.Report{SchemaVersion: 1, CollectedAt: at, GeneratedAt: at, FailOn: "high", Summary: report.Summary{Results: report.Counts{}}}
	for _, t := range []struct{ name, envs string }{{"contoso", "E1 E2"}, {"fabrikam", "F1"}} {
		tr := report.Tenant{Name: t.name}
		if slices.Contains(unlisted, t.name) {
			tr.Error = "environments: HTTP 403"
			r.Tenants = append(r.Tenants, tr)
			continue
		}
		for _, id := range strings.Fields(t.envs) {
			st := envs[id]
			e := report.Environment{Tenant: t.name, ID: id, Name: id, CollectionStatus: "ok"}
			if st == [2]string{"error", "error"} {
				e.CollectionStatus = "error"
			}
			r.Environments = append(r.Environments, e)
			for i, rule := range []string{"W365.ROLES.1", "W365.ROLES.2"} {
				r.Results = append(r.Results, policy.Result{Tenant: t.name, EnvironmentID: id, EnvironmentName: id, RuleID: rule, Status: policy.Status(st[i]), Severity: "high"})
				r.Summary.Results[policy.Status(st[i])]++
			}
			tr.Environments++
		}
		r.Tenants = append(r.Tenants, tr)
	}
	return r
}

// Runs recorded and read back as a scan does: each compared with the previous run of its scope read from the
// store, with what that run could not read compared with the last run that read it. An outage of one
// environment and of a whole tenant, under a retention of two runs: the run before the outage is kept as long
// as it is the last to have read something, first-seen times survive, and a failure resolved or begun during
// the outage is told as such.
func TestEachPairIsComparedWithTheLastRunThatReadIt(t *testing.T) {
	t.Parallel()
	s, err := Acquire(ctx, filepath.Join(t.TempDir(), "h.db"), t0)
	require.NoError(t, err)
	defer s.Close()
	down := [2]string{"error", "error"}
	reports := []*report.Report{
		fleet(t0, map[string][2]string{"E1": {"fail", "pass"}, "E2": {"fail", "fail"}, "F1": {"fail", "pass"}}),
		fleet(t0.Add(6*time.Hour), map[string][2]string{"E1": down, "E2": {"fail", "pass"}}, "fabrikam"),
		fleet(t0.Add(12*time.Hour), map[string][2]string{"E1": down, "E2": {"fail", "pass"}}, "fabrikam"),
		fleet(t0.Add(18*time.Hour), map[string][2]string{"E1": {"pass", "pass"}, "E2": {"fail", "pass"}, "F1": {"fail", "fail"}}),
	}
	var drifts []*report.Drift
	var kept [][]int64
	for i, rep := range reports {
		id, err := s.NextID(ctx)
		require.NoError(t, err)
		cur := drift.Scan{Report: rep, RunID: id}
		var prev *drift.Scan
		if i > 0 {
			base, err := s.Latest(ctx, "", 0)
			require.NoError(t, err)
			prev, err = s.Scan(ctx, base.ID)
			require.NoError(t, err)
			drifts = append(drifts, drift.Compare(*prev, cur))
		}
		_, err = s.Add(ctx, Record{Run: Run{ID: id, StartedAt: rep.CollectedAt, FinishedAt: rep.CollectedAt, Status: StatusComplete, Trigger: "scan",
			FailOn: "high", CollectedAt: rep.CollectedAt}, Report: rep, FirstSeen: FirstSeenOf(drift.FirstSeen(prev, cur)),
			LastRead: LastReadOf(drift.Unread(prev, cur))}, Retention{Keep: 2})
		require.NoError(t, err)
		runs, err := s.Runs(ctx)
		require.NoError(t, err)
		var ids []int64
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		kept = append(kept, ids)
	}
	assert.Equal(t, [][]int64{{1}, {1, 2}, {1, 2, 3}, {3, 4}}, kept,
		"run 1 outlives the retention of two runs while it is the last to have read E1 and fabrikam, and goes once run 4 read them again")

	lr, err := s.LastRead(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, []LastRead{
		{Tenant: "contoso", EnvironmentID: "e1", RunID: 1},
		{Tenant: "contoso", EnvironmentID: "e1", RuleID: "W365.ROLES.1", RunID: 1},
		{Tenant: "contoso", EnvironmentID: "e1", RuleID: "W365.ROLES.2", RunID: 1},
		{Tenant: "fabrikam", RunID: 1},
		{Tenant: "fabrikam", EnvironmentID: "f1", RunID: 1},
		{Tenant: "fabrikam", EnvironmentID: "f1", RuleID: "W365.ROLES.1", RunID: 1},
		{Tenant: "fabrikam", EnvironmentID: "f1", RuleID: "W365.ROLES.2", RunID: 1},
	}, lr)

	lines := func(d *report.Drift) []string {
		var out []string
		for name, list := range map[string][]report.DriftResult{"new": d.NewFailures, "resolved": d.Resolved, "persisting": d.Persisting} {
			for _, r := range list {
				l := fmt.Sprintf("%s %s %s first seen run %d", name, r.EnvironmentID, r.RuleID, r.FirstSeenRun)
				if r.Baseline != nil {
					l += fmt.Sprintf(", compared with run %d", r.Baseline.RunID)
				}
				out = append(out, l)
			}
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, []string{"persisting E2 W365.ROLES.1 first seen run 1", "resolved E2 W365.ROLES.2 first seen run 1"}, lines(drifts[0]),
		"the outage run tells only what it read")
	assert.Equal(t, []string{"persisting E2 W365.ROLES.1 first seen run 1"}, lines(drifts[1]))
	assert.Equal(t, []string{
		"new F1 W365.ROLES.2 first seen run 4, compared with run 1",
		"persisting E2 W365.ROLES.1 first seen run 1",
		"persisting F1 W365.ROLES.1 first seen run 1, compared with run 1",
		"resolved E1 W365.ROLES.1 first seen run 1, compared with run 1",
	}, lines(drifts[2]))
	assert.Equal(t, int64(3), drifts[2].Baseline.RunID)
	seen, err := s.FirstSeen(ctx, 4)
	require.NoError(t, err)
	assert.Equal(t, Seen{At: t0, RunID: 1}, seen[[2]string{"f1", "W365.ROLES.1"}], "recorded for the next run")

	// A run that only names runs the store no longer holds reads as if nothing had read those things.
	_, err = s.db.Exec("INSERT INTO last_read (run_id, tenant, environment_id, rule_id, read_run) VALUES (4, 'contoso', 'e9', 'W365.ROLES.1', 1)")
	require.NoError(t, err)
	sc, err := s.Scan(ctx, 4)
	require.NoError(t, err)
	assert.Zero(t, sc.LastRead.Len())

	_, err = s.Add(ctx, Record{Run: Run{ID: 5, StartedAt: t0, FinishedAt: t0, Status: StatusComplete, Trigger: "scan", FailOn: "high"},
		Report: rep(t0, "pass"), LastRead: []LastRead{{Tenant: "contoso", EnvironmentID: "e1", RunID: 5}}}, Retention{})
	assert.ErrorContains(t, err, "run 5 is not an earlier run")
}
