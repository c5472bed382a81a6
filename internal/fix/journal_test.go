package fix

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A journal is its owner's only: it holds user IDs and the state of the tenant's environments.
func TestAJournalIsReadableByItsOwnerOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fix.jsonl")
	undoJournal(t, path, "fix-1", "fix")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// ReadJournal pairs each write with its last outcome (a lost answer is followed by what reading the state again
// showed), keeps the writes of the run asked for only, and refuses a journal corrupted before its last line.
func TestReadJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "fix.jsonl")
	undoJournal(t, path, "fix-1", "fix",
		undoEntry{Record{Action: ActEnableUser, Method: http.MethodPatch, Path: "systemusers(u-1)"},
			[]Record{{Result: OutcomeUnknown}, {Result: OutcomeApplied, Error: "confirmed by re-reading"}}},
		undoEntry{Record{Action: ActAssignRole, Method: http.MethodPost, Path: "systemusers(u-1)/systemuserroles_association/$ref"}, nil})
	undoJournal(t, path, "fix-2", "fix",
		undoEntry{Record{Action: ActEnableUser, Method: http.MethodPatch, Path: "systemusers(u-2)"}, []Record{{Result: OutcomeFailed, Status: 400}}})
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	corrupt := filepath.Join(dir, "corrupt.jsonl")
	lines := append([]byte("\n{not json}\n"), raw...)
	require.NoError(t, os.WriteFile(corrupt, lines, 0o600))

	t.Run("a run's writes with their last outcome", func(t *testing.T) {
		t.Parallel()
		id, entries, err := ReadJournal(path, "fix-1")
		require.NoError(t, err)
		assert.Equal(t, "fix-1", id)
		require.Len(t, entries, 2)
		assert.Equal(t, "systemusers(u-1)", entries[0].Intent.Path)
		require.NotNil(t, entries[0].Outcome)
		assert.Equal(t, OutcomeApplied, entries[0].Outcome.Result, "not the outcome of fix-2's write of the same sequence number")
		assert.Equal(t, ActAssignRole, entries[1].Intent.Action)
		assert.Nil(t, entries[1].Outcome, "a write without outcome: the run stopped while it was sent")
	})
	t.Run("the last fix run by default", func(t *testing.T) {
		t.Parallel()
		id, entries, err := ReadJournal(path, "")
		require.NoError(t, err)
		assert.Equal(t, "fix-2", id)
		require.Len(t, entries, 1)
		assert.Equal(t, 2, entries[0].Intent.Seq, "sequence numbers count per run")
		assert.Equal(t, OutcomeFailed, entries[0].Outcome.Result)
	})
	t.Run("a corrupted line before the last", func(t *testing.T) {
		t.Parallel()
		_, _, err := ReadJournal(corrupt, "")
		require.Error(t, err)
		assert.Contains(t, err.Error(), corrupt+":2: not a journal record")
	})
}
