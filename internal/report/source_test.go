package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SARIF locations are relative to the repository that holds the config file, whatever the working directory.
func TestSourceForIsRelativeToTheRepository(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "ops", "audit"), 0o700))
	cfg := filepath.Join(repo, "ops", "audit", "audit.yaml")

	src := SourceFor(cfg, map[string]int{"contoso": 3, "fabrikam": 0})
	assert.Equal(t, "ops/audit/audit.yaml", src.URI)
	assert.Equal(t, map[string]int{"contoso": 3}, src.Lines, "tenants without a line are left out")

	outside := filepath.Join(t.TempDir(), "audit.yaml")
	assert.Equal(t, "audit.yaml", SourceFor(outside, nil).URI, "outside any repository and the working directory: the base name")
	assert.Nil(t, SourceFor("", nil))
}

func TestWriteFilesWritesEveryFormatButTheTableOwnerOnly(t *testing.T) {
	t.Parallel()
	fs, err := ParseList("table,json,csv,inventory")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "out")
	written, err := WriteFiles(dir, fs, fixture(), Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "inventory.csv"), filepath.Join(dir, "report.csv"), filepath.Join(dir, "report.json")}, written,
		"the inventory is a CSV of its own, beside the report's")
	for _, p := range written {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// failingReporter writes part of a report, then fails.
type failingReporter struct{}

func (failingReporter) Write(w io.Writer, _ *Report) error {
	if _, err := w.Write(bytes.Repeat([]byte("{"), 200<<10)); err != nil {
		return err
	}
	return errors.New("the disk is full")
}

// A report that cannot be written completely leaves the earlier one in place, and no temporary file.
func TestWriteFilesLeavesNoHalfWrittenReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	require.NoError(t, os.WriteFile(p, []byte("the earlier report"), 0o600))
	broken := Format{Name: "json", Ext: "json", New: func(Options) Reporter { return failingReporter{} }}
	written, err := WriteFiles(dir, []Format{broken}, fixture(), Options{})
	require.EqualError(t, err, "write json report "+p+": the disk is full")
	assert.Empty(t, written)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "the earlier report", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}
