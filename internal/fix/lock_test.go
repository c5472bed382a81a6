package fix

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two runs of the same user on the same tenant exclude each other whatever their TMPDIR: the lock lives in the
// user's cache directory, and the tenant is named case-insensitively.
func TestATenantIsLockedWhateverTMPDIRSays(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Setenv("TMPDIR", t.TempDir())
	const tenant, bap = "3F6C1D2E-8A4B-4C5D-9E6F-7A8B9C0D1E2F", "https://api.bap.microsoft.com/"
	first, err := AcquireLock(tenant, bap, now)
	require.NoError(t, err)

	t.Setenv("TMPDIR", t.TempDir())
	_, err = AcquireLock("3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f", bap, now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another audit fix is changing tenant 3f6c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f right now (pid")
	assert.Contains(t, err.Error(), "since 2026-11-26T12:00:00Z")

	other, err := AcquireLock("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", bap, now)
	require.NoError(t, err, "another tenant is not excluded")
	other.Release()

	locks, err := filepath.Glob(filepath.Join(cache, "work365-audit", "locks", "audit-fix-*.lock"))
	require.NoError(t, err)
	require.NotEmpty(t, locks, "the lock files are in the user's cache directory")
	for _, l := range locks {
		fi, err := os.Stat(l)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "owner-only")
	}

	first.Release()
	first.Release() // twice is harmless
	again, err := AcquireLock(tenant, bap, now)
	require.NoError(t, err, "released")
	again.Release()
	var none *Lock
	none.Release()
}
