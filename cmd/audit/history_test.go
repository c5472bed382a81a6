package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/history"
)

// A scan with --history keeps the exit code contract, prints its drift in one line and leaves an
// owner-only store; --keep applies the retention.
func TestScanWithAHistoryComparesEachRunWithThePreviousOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "state", "history.db")
	scan := func(extra ...string) int {
		return h.run(append([]string{"scan", "--config", h.cfgPath, "--format", "json", "--output", filepath.Join(h.dir, "out"), "--history", hist}, extra...)...)
	}
	require.Equal(t, exitUnaudited, scan(), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: run 1 is the first of its scope")
	assert.Nil(t, readReport(t, filepath.Join(h.dir, "out")).Drift)
	for p, mode := range map[string]os.FileMode{filepath.Dir(hist): 0o700, hist: 0o600, hist + ".lock": 0o600} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), p)
	}

	require.Equal(t, exitUnaudited, scan(), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: 0 new failures, 0 resolved, 22 persisting (oldest since 26 Nov 2026), 0 inventory changes since run 1 (26 November 2026, 12:00 UTC)")
	rep := readReport(t, filepath.Join(h.dir, "out"))
	require.NotNil(t, rep.Drift)
	assert.Equal(t, 22, rep.Drift.Summary.Persisting)

	// A scan of one environment is compared with the previous scan of that environment only.
	require.Equal(t, exitOK, scan("--env", "Contoso Production"), h.stderr.String())
	assert.Contains(t, h.stderr.String(), "drift: run 3 is the first of its scope")
	require.Equal(t, exitOK, scan("--env", "Contoso Production", "--keep", "2", "--quiet"), h.stderr.String())
	assert.Empty(t, h.stderr.String(), "--quiet: no notes")

	st, err := history.Open(context.Background(), hist)
	require.NoError(t, err)
	runs, err := st.Runs(context.Background())
	require.NoError(t, err)
	st.Close()
	require.Len(t, runs, 2, "--keep 2 kept the two newest runs")
	assert.Equal(t, []int64{3, 4}, []int64{runs[0].ID, runs[1].ID})
	assert.Equal(t, "env=Contoso Production", runs[1].Scope)
	assert.Equal(t, exitOK, runs[1].ExitCode)
	assert.NotEmpty(t, runs[1].ToolDigest)
	assert.NotEmpty(t, runs[1].PolicyDigest)

	require.Equal(t, exitOK, h.run("history", "show", "latest", "--history", hist, "--format", "json", "--output", "-"))
	assert.Contains(t, h.stdout.String(), `"name": "Contoso Production"`)
}

// Two runs never interleave on one store: the second is refused with a message that says why and what to
// do, before it reads anything.
func TestAScanIsRefusedWhileAnotherRunHoldsTheHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "history.db")
	held, err := history.Acquire(context.Background(), hist, testNow)
	require.NoError(t, err)
	out := filepath.Join(h.dir, "out")
	code := h.run("scan", "--config", h.cfgPath, "--format", "json", "--output", out, "--history", hist)
	assert.Equal(t, exitError, code)
	assert.Contains(t, h.stderr.String(), "audit: history "+hist+": the history is in use by another run (pid ")
	assert.Contains(t, h.stderr.String(), "runs on one history never interleave; wait for it to finish, or give this run another --history file")
	assert.NoDirExists(t, out)
	assert.Zero(t, h.server("contoso").Stats().Requests)

	// The scheduler logs the refusal of that run and goes on with the next one.
	clock := &fakeClock{now: testNow.Add(-time.Hour), before: map[int]func(){2: func() { held.Close() }}}
	o := scheduleOf(h, clock, 2)
	o.scan.history.path = hist
	require.NoError(t, runSchedule(context.Background(), h.g, o))
	assert.Contains(t, h.stderr.String(), "audit: run 1: history "+hist+": the history is in use by another run")
	assert.Contains(t, h.stderr.String(), "history: recorded run 1")
}

// When the run cannot be written to the history, the scan fails with the reason, and its reports are there.
func TestAHistoryThatCannotBeWrittenFailsTheScanButKeepsItsReports(t *testing.T) {
	t.Parallel()
	h := newHarness(t, emulator.Options{})
	hist := filepath.Join(h.dir, "history.db")
	out := filepath.Join(h.dir, "out")
	require.Equal(t, exitOK, h.run("scan", "--config", h.cfgPath, "--env", "Contoso Production", "--format", "json", "--output", out, "--history", hist))
	db, err := sql.Open("sqlite", "file:"+hist)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TRIGGER full BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(filepath.Join(out, "report.json")))

	code := h.run("scan", "--config", h.cfgPath, "--env", "Contoso Production", "--format", "json", "--output", out, "--history", hist)
	assert.Equal(t, exitError, code)
	msg := h.stderr.String()
	assert.Contains(t, msg, "audit: record run 2 in the history "+hist+": record run: ")
	assert.Contains(t, msg, "database or disk is full")
	assert.Contains(t, msg, "(the reports of this run are in "+out+")")
	assert.FileExists(t, filepath.Join(out, "report.json"))
	assert.True(t, strings.Count(msg, "\n") >= 1)
}
