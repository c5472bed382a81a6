package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/demo"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/historyreport"
	"github.com/work365/audit/internal/snapshot"
)

// demoHistory records runs of the demo tenants in a new history, six hours apart on a fake clock, through
// the scan's own recorder: the demo is collected once from the emulators, then each run evaluates a copy of
// that snapshot changed as an administrator or an outage would change it, and the recorder compares it with
// the previous run and records it. Changes, by run i (from 0):
//   - each Work 365 environment's application user loses Work 365 Service for stretches of runs, and gets it
//     back (new failures, resolutions and inventory changes);
//   - every 11th run from the 8th cannot read the first environment, and every 13th from the 11th cannot list
//     the second tenant's environments (outages);
//   - every 17th run from the 17th fails before it has results;
//   - from the middle on, the first environment runs a newer Work 365.
func demoHistory(tb testing.TB, runs int) (path string, start time.Time) {
	tb.Helper()
	start = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	emu, err := demo.Start([]string{"../../testdata/tenants/demo.yaml", "../../testdata/tenants/demo-fabrikam.yaml"}, emulator.Options{}, clock)
	require.NoError(tb, err)
	defer emu.Close()
	deps := Deps{Now: clock, Getenv: emu.Getenv(func(string) string { return "" }), HTTP: emu.HTTP, ToolVersion: "test"}
	s, err := Open(context.Background(), deps, Settings{Config: emu.Config, FailOn: "high"})
	require.NoError(tb, err)
	ctx := context.Background()
	snap, err := s.Collect(ctx)
	require.NoError(tb, err)
	ev, err := s.Evaluate(ctx, snap)
	require.NoError(tb, err)
	digest := ev.Report.Policy.Digest
	var raw bytes.Buffer
	require.NoError(tb, json.NewEncoder(&raw).Encode(snap))

	path = filepath.Join(tb.TempDir(), "history.db")
	for i := range runs {
		mu.Lock()
		now = start.Add(time.Duration(i) * 6 * time.Hour)
		mu.Unlock()
		rec, err := OpenRecorder(ctx, deps, History{Path: path}, "", digest, "high", "schedule")
		require.NoError(tb, err)
		if i%17 == 16 {
			rec.Abandon(errors.New("collect fabrikam: list environments: context deadline exceeded"))
			rec.Close()
			continue
		}
		cp, err := snapshot.Decode(bytes.NewReader(raw.Bytes()))
		require.NoError(tb, err)
		cp.CollectedAt = clock().Add(time.Minute)
		change(cp, i, runs)
		ev, err := s.Evaluate(ctx, cp)
		require.NoError(tb, err)
		rec.Compare(ctx, ev)
		require.NoError(tb, rec.Finish(ctx, ev, nil, "-"))
		rec.Close()
	}
	return path, start
}

// change applies run i's changes to a copy of the demo's snapshot.
func change(snap *snapshot.Snapshot, i, runs int) {
	j := 0
	for t := range snap.Tenants {
		tn := &snap.Tenants[t]
		if t == 1 && i%13 == 10 {
			tn.Error = &snapshot.Error{Stage: "environments", Message: "401 Unauthorized: the client secret expired", HTTPStatus: 401}
			tn.Environments = nil
			continue
		}
		for e := range tn.Environments {
			env := &tn.Environments[e]
			dv := env.Dataverse
			if dv == nil || !dv.Work365.Installed {
				continue
			}
			if j == 0 && i%11 == 7 {
				env.Status, env.Dataverse = snapshot.StatusError, nil
				env.Error = &snapshot.Error{Stage: "systemusers", Message: "403 Forbidden", HTTPStatus: 403}
				j++
				continue
			}
			if j == 0 && i >= runs/2 {
				dv.Work365.Version = "9.0.0.1"
			}
			if ((i+2*j)/5)%3 == 1 {
				for u := range dv.ApplicationUsers {
					var kept []snapshot.Role
					for _, r := range dv.ApplicationUsers[u].Roles {
						if r.Name != "Work 365 Service" {
							kept = append(kept, r)
						}
					}
					dv.ApplicationUsers[u].Roles = kept
				}
			}
			j++
		}
	}
}

func buildReport(t testing.TB, path string, o historyreport.Options) *historyreport.Report {
	t.Helper()
	st, err := history.Open(context.Background(), path)
	require.NoError(t, err)
	defer st.Close()
	r, err := HistoryReport(context.Background(), st, o)
	require.NoError(t, err)
	return r
}

func jsonOf(t testing.TB, r *historyreport.Report) []byte {
	f, err := historyreport.ParseFormats("json")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, f[0].Write(&b, r))
	return b.Bytes()
}

// One history of 17 runs serves both checks: it has every kind of change, an outage of an environment and
// one of a tenant, and a failed run.
func TestAHistoryReportOfTheDemoTenants(t *testing.T) {
	t.Parallel()
	path, start := demoHistory(t, 17)
	t.Run("covers the runs of its period", func(t *testing.T) {
		r := buildReport(t, path, historyreport.Options{ToolVersion: "test"})
		require.NoError(t, historyreport.ValidateJSON(jsonOf(t, r)))

		require.Len(t, r.Runs, 17)
		assert.Equal(t, "failed", r.Runs[16].Status)
		assert.Equal(t, 16, r.Summary.CompleteRuns)
		assert.Equal(t, start.Add(16*6*time.Hour), r.Period.To, "the period ends at the newest run's start")
		assert.Equal(t, start.Add(16*6*time.Hour).AddDate(0, 0, -90), r.Period.From)
		require.Len(t, r.Compliance.Tenants, 2)
		assert.Len(t, r.Compliance.Rules, 15)
		assert.NotEmpty(t, r.Compliance.Environments)

		kinds := map[string]int{}
		for _, e := range r.Timeline {
			assert.Less(t, e.BaselineRun, e.RunID)
			for _, x := range e.NewFailures {
				kinds["new "+x.RuleID]++
			}
			for _, x := range e.Resolved {
				kinds["resolved "+x.RuleID]++
				assert.Positive(t, x.FirstSeenRun)
			}
			for _, c := range e.Inventory {
				kinds[c.Kind]++
			}
		}
		assert.Positive(t, kinds["new W365.ROLES.1"])
		assert.Positive(t, kinds["resolved W365.ROLES.1"])
		assert.Positive(t, kinds["role_removed"])
		assert.Positive(t, kinds["role_added"])
		assert.Equal(t, 1, kinds["work365_upgraded"])
		assert.Zero(t, kinds["environment_removed"]+kinds["environment_added"], "an outage adds and removes nothing")
		assert.Equal(t, len(r.Resolutions), r.Summary.Resolved)
		assert.NotEmpty(t, r.TimeToResolve)
		require.NotEmpty(t, r.Open)
		for i := 1; i < len(r.Open); i++ {
			assert.False(t, r.Open[i].FirstSeen.Before(r.Open[i-1].FirstSeen), "oldest first")
		}
		assert.Equal(t, int64(1), r.Open[0].FirstSeenRun, "the demo's standing failures are open since the first run")

		// The same history gives the same report, byte for byte.
		assert.Equal(t, string(jsonOf(t, r)), string(jsonOf(t, buildReport(t, path, historyreport.Options{ToolVersion: "test"}))))
	})

	// A period that starts after the history's first run compares its first run with the run before it, as
	// the scan did: its changes are those the scan recorded, not everything since nothing.
	t.Run("compares its first run with the run before it", func(t *testing.T) {
		r := buildReport(t, path, historyreport.Options{Window: mustWindow(t, "1d")})
		require.NoError(t, historyreport.ValidateJSON(jsonOf(t, r)))
		var ids []int64
		for _, run := range r.Runs {
			ids = append(ids, run.ID)
		}
		assert.Equal(t, []int64{13, 14, 15, 16, 17}, ids, "the runs that started within a day of the newest")

		st, err := history.Open(context.Background(), path)
		require.NoError(t, err)
		defer st.Close()
		require.NotEmpty(t, r.Timeline)
		assert.Equal(t, int64(13), r.Timeline[0].RunID)
		assert.Equal(t, int64(12), r.Timeline[0].BaselineRun, "run 13 is compared with run 12, before the period")
		for _, e := range r.Timeline {
			rep, err := st.Report(context.Background(), e.RunID)
			require.NoError(t, err)
			require.NotNil(t, rep.Drift, "run %d", e.RunID)
			assert.Equal(t, rep.Drift.Baseline.RunID, e.BaselineRun)
			assert.Equal(t, len(rep.Drift.NewFailures), len(e.NewFailures), "run %d: the drift the scan recorded", e.RunID)
			assert.Equal(t, len(rep.Drift.Resolved), len(e.Resolved), "run %d", e.RunID)
			assert.Equal(t, len(rep.Drift.Inventory), len(e.Inventory), "run %d", e.RunID)
		}
	})
}

func TestAHistoryReportRefusesWhatItCannotBuild(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "history.db")
	st, err := history.Acquire(context.Background(), empty, time.Now())
	require.NoError(t, err)
	_, err = HistoryReport(context.Background(), st, historyreport.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds no run yet")
	assert.Equal(t, CodeUsage, CodeOf(err))
	_, err = HistoryReport(context.Background(), st, historyreport.Options{Environments: []string{"[Prod"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `pattern "[Prod"`)
	st.Close()
}

// BenchmarkHistoryReport builds the report of 25 and of 100 runs of the demo tenants (a run every six
// hours) and reports, besides the time per report, the peak of the heap while it is built (with the
// collector set to run often, so that the peak is close to what is live) and the heap that the history's
// reports would take if they were all loaded at once. The peak stays about the same from 25 runs to 100:
// the report reads one run at a time.
//
//	go test ./internal/audit -run '^$' -bench HistoryReport -benchtime 5x
func BenchmarkHistoryReport(b *testing.B) {
	for _, n := range []int{25, 100} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			path, _ := demoHistory(b, n)
			st, err := history.Open(context.Background(), path)
			require.NoError(b, err)
			defer st.Close()
			runs, err := st.Runs(context.Background())
			require.NoError(b, err)
			all := heapOf(func() any {
				var reps []any
				for _, r := range runs {
					if rep, err := st.Report(context.Background(), r.ID); err == nil {
						reps = append(reps, rep)
					}
				}
				return reps
			})
			defer debug.SetGCPercent(debug.SetGCPercent(5))
			runtime.GC()
			base := heapObjects()
			var peak atomic.Uint64
			b.ResetTimer()
			for b.Loop() {
				stop := sampleHeap(&peak)
				r, err := HistoryReport(context.Background(), st, historyreport.Options{Window: mustWindow(b, "all")})
				stop()
				require.NoError(b, err)
				require.Len(b, r.Runs, n)
			}
			b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "MB-peak-heap")
			b.ReportMetric(float64(all)/(1<<20), "MB-all-reports")
		})
	}
}

func mustWindow(tb testing.TB, s string) historyreport.Window {
	w, err := historyreport.ParseWindow(s)
	require.NoError(tb, err)
	return w
}

// heapOf is the live heap that what f returns keeps.
func heapOf(f func() any) uint64 {
	runtime.GC()
	before := heapObjects()
	v := f()
	runtime.GC()
	after := heapObjects()
	runtime.KeepAlive(v)
	if after < before {
		return 0
	}
	return after - before
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap records the largest heap it sees, every millisecond, until stopped.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
