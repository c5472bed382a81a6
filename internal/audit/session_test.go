package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/demo"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// open serves the demo's Contoso tenant and opens a session on it, with locks in a directory of the test's.
func open(t *testing.T, s Settings) (*Session, *demo.Emulators, *strings.Builder) {
	t.Helper()
	emu, err := demo.Start([]string{"../../testdata/tenants/demo.yaml"}, emulator.Options{}, func() time.Time { return testNow })
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	var stderr strings.Builder
	deps := Deps{Now: func() time.Time { return testNow }, Getenv: emu.Getenv(func(string) string { return "" }), HTTP: emu.HTTP,
		Stderr: &stderr, ToolVersion: "test"}
	s.Config = emu.Config
	sess, err := Open(context.Background(), deps, s)
	require.NoError(t, err)
	return sess, emu, &stderr
}

func statusOf(ev *Evaluation, env, rule string) policy.Status {
	for _, r := range ev.Results {
		if r.EnvironmentName == env && r.RuleID == rule {
			return r.Status
		}
	}
	return ""
}

func TestASessionScansPlansFixesAndUndoes(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	s, emu, stderr := open(t, Settings{Envs: []string{"Contoso Legacy", "Contoso Sandbox"}})
	ctx := context.Background()

	release, err := s.LockAll()
	require.NoError(t, err)
	_, err = s.LockAll()
	require.Error(t, err, "a second run on the tenant waits for the first")

	ev, err := s.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, ev.Report.Environments, 2, "--env globs select the environments")
	assert.Equal(t, policy.StatusFail, statusOf(ev, "Contoso Legacy", "W365.SERVICE.1"))

	dir := t.TempDir()
	plan := s.Plan(ev, FixOptions{Envs: []string{"Contoso Legacy"}})
	require.Equal(t, 1, CountEnvs(plan))
	asked := ""
	run, err := s.Apply(ctx, ev, plan, FixOptions{OutputDir: dir, Confirm: func(q string) error { asked = q; return nil }})
	require.NoError(t, err)
	assert.Equal(t, "Apply 5 automatic steps in 1 environments?", asked)
	assert.NoError(t, run.Failed("fix"))
	assert.Equal(t, filepath.Dir(run.Journal), dir)
	assert.Contains(t, stderr.String(), "journal: "+run.Journal)
	assert.Equal(t, policy.StatusPass, statusOf(run.Final, "Contoso Legacy", "W365.SERVICE.1"), "verified by reading again")
	rep := FixReport(run.Result, run.Journal, "apply")
	assert.Equal(t, 5, rep.Counts[fix.OutcomeApplied])
	release()

	undo, err := fix.BuildUndo(run.Journal, "")
	require.NoError(t, err)
	refused := errors.New("no")
	_, err = s.Undo(ctx, undo, run.Journal, FixOptions{Confirm: func(string) error { return refused }})
	require.ErrorIs(t, err, refused)
	before := len(emu.Servers[0].Writes())
	assert.Equal(t, before, len(emu.Servers[0].Writes()), "nothing written without confirmation")
	urun, err := s.Undo(ctx, undo, run.Journal, FixOptions{})
	require.NoError(t, err)
	assert.NoError(t, urun.Failed("undo"))
	assert.True(t, strings.HasPrefix(filepath.Base(urun.Journal), strings.TrimSuffix(filepath.Base(run.Journal), ".jsonl")+".undo-"))
	after, err := s.Scan(ctx)
	require.NoError(t, err)
	assert.Equal(t, policy.StatusFail, statusOf(after, "Contoso Legacy", "W365.SERVICE.1"), "the service user is back")
}

// A plan with nothing automatic opens no journal and asks nothing.
func TestApplyingAPlanWithNothingAutomaticWritesNothing(t *testing.T) {
	t.Parallel()
	s, emu, _ := open(t, Settings{Envs: []string{"Contoso Training"}})
	ev, err := s.Scan(context.Background())
	require.NoError(t, err)
	plan := s.Plan(ev, FixOptions{})
	require.Zero(t, plan.Automatic())
	run, err := s.Apply(context.Background(), ev, plan, FixOptions{Confirm: func(string) error { t.Fatal("asked"); return nil }})
	require.NoError(t, err)
	assert.Empty(t, run.Journal)
	assert.Same(t, ev, run.Final)
	assert.Empty(t, emu.Servers[0].Writes())
}

func TestRunScanRecordsAndComparesRuns(t *testing.T) {
	t.Parallel()
	s, _, stderr := open(t, Settings{Envs: []string{"Contoso Production"}})
	hist := History{Path: filepath.Join(t.TempDir(), "history.db")}
	ctx := context.Background()
	wrote := 0
	write := func(*Evaluation) error { wrote++; return nil }
	ev, err := s.RunScan(ctx, ScanOptions{History: hist, Trigger: "scan"}, write)
	require.NoError(t, err)
	assert.Nil(t, ev.Report.Drift, "the first run has nothing to compare with")
	ev, err = s.RunScan(ctx, ScanOptions{History: hist, Trigger: "scan", Snapshot: filepath.Join(t.TempDir(), "snap.json")}, write)
	require.NoError(t, err)
	require.NotNil(t, ev.Report.Drift)
	assert.Equal(t, 2, wrote)
	assert.Contains(t, stderr.String(), "history: recorded run 2 in ")
	// Each run's snapshot is recorded whole, data included, though the scan let each environment's data go.
	store, err := history.Open(ctx, hist.Path)
	require.NoError(t, err)
	for _, id := range []int64{1, 2} {
		snap, err := store.Snapshot(ctx, id)
		require.NoError(t, err)
		require.Len(t, snap.Tenants, 1)
		require.Len(t, snap.Tenants[0].Environments, 1)
		assert.NotNil(t, snap.Tenants[0].Environments[0].Dataverse, "run %d", id)
	}
	require.NoError(t, store.Close())
	assert.Nil(t, ev.Snapshot.Tenants[0].Environments[0].Dataverse, "the evaluation let the data go")

	boom := errors.New("disk full")
	_, err = s.RunScan(ctx, ScanOptions{History: hist, Trigger: "scan"}, func(*Evaluation) error { return boom })
	require.ErrorIs(t, err, boom)
	assert.Contains(t, stderr.String(), "history: run 3 recorded as failed")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.RunScan(cancelled, ScanOptions{History: hist, Trigger: "scan"}, write)
	require.Error(t, err, "a run that cannot start is not recorded as a scan")
	assert.Equal(t, 2, wrote)
}

// A streaming scan gives the report of a scan that keeps every environment's data: the same JSON.
func TestAStreamingScanGivesTheSameReport(t *testing.T) {
	t.Parallel()
	emu, err := demo.Start([]string{"../../testdata/tenants/demo.yaml", "../../testdata/tenants/demo-fabrikam.yaml"}, emulator.Options{},
		func() time.Time { return testNow })
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	cfg, err := config.LoadSettings("../../testdata/tenants/demo-config.yaml")
	require.NoError(t, err)
	cfg.Tenants = emu.Config.Tenants
	deps := Deps{Now: func() time.Time { return testNow }, Getenv: emu.Getenv(func(string) string { return "" }), HTTP: emu.HTTP}
	s, err := Open(context.Background(), deps, Settings{Config: cfg})
	require.NoError(t, err)
	whole, err := s.Scan(context.Background())
	require.NoError(t, err)
	dir := t.TempDir()
	streamed, err := s.ScanStreaming(context.Background(), filepath.Join(dir, "streamed.json"))
	require.NoError(t, err)
	require.NoError(t, snapshot.Save(filepath.Join(dir, "whole.json"), whole.Snapshot))
	wrote, err := os.ReadFile(filepath.Join(dir, "streamed.json"))
	require.NoError(t, err)
	saved, err := os.ReadFile(filepath.Join(dir, "whole.json"))
	require.NoError(t, err)
	assert.Equal(t, string(saved), string(wrote), "every environment is written out whole before its data goes")
	assert.Equal(t, filepath.Join(dir, "streamed.json"), streamed.SnapshotFile)
	for _, tn := range streamed.Snapshot.Tenants {
		for _, e := range tn.Environments {
			assert.Nil(t, e.Dataverse, "%s: the data is let go", e.Name)
		}
	}
	render := func(ev *Evaluation) string {
		var b strings.Builder
		f, err := report.Lookup("json")
		require.NoError(t, err)
		require.NoError(t, f.New(report.Options{}).Write(&b, ev.Report))
		return b.String()
	}
	assert.Equal(t, render(whole), render(streamed))
	assert.NotEmpty(t, streamed.Report.Warnings, "the demo config's stale waivers are reported")
}
