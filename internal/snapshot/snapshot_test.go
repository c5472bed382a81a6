package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSaveAndLoadRoundTripWithOwnerOnlyPermissions(t *testing.T) {
	t.Parallel()
	s := &Snapshot{SchemaVersion: SchemaVersion, CollectedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Tenants: []Tenant{{Name: "b", Environments: []Environment{{ID: "2", Name: "Z", Status: StatusOK}, {ID: "1", Name: "A", Status: StatusSkipped}}}, {Name: "a"}}}
	s.Sort()
	assert.Equal(t, "a", s.Tenants[0].Name)
	assert.Equal(t, "A", s.Tenants[1].Environments[0].Name)

	p := filepath.Join(t.TempDir(), "snap.json")
	require.NoError(t, Save(p, s))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err := Load(p)
	require.NoError(t, err)
	assert.Equal(t, s, got)
}

func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{"schema_version": 2, "tenants": []}`:             "upgrade audit",
		`{"schema_version": 0}`:                            "unknown version",
		`{"tenants": []}`:                                  "no schema_version",
		`{"schema_version": 1, "tenants": [], "extra": 1}`: "unknown field",
	}
	for body, want := range cases {
		_, err := Decode(bytes.NewReader([]byte(body)))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want)
		if want != "unknown field" {
			assert.True(t, errors.Is(err, ErrUnsupportedVersion), body)
		}
	}
}
