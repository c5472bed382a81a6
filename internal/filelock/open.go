package filelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Open opens (creating it when needed) the lock file at path for locking: owner-only, without following a
// symbolic link at path, and only if it is a regular file of the current user. A lock file in a directory
// others can write must not be one they planted.
func Open(path string) (*os.File, error) {
	f, err := openNoFollow(path)
	if err != nil {
		if isSymlinkRefusal(err) {
			return nil, fmt.Errorf("the lock file %s is a symbolic link: remove it (lock files are never followed)", path)
		}
		return nil, err
	}
	if err := checkOwned(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("the lock file %s %v: remove it, and make sure nobody else can write to %s", path, err, filepath.Dir(path))
	}
	return f, nil
}

// Dir is the directory for the auditor's lock files: a directory of the user's own cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS, %LocalAppData% on Windows), created
// owner-only. It does not depend on TMPDIR, so two runs of one user on one tenant always meet at the same lock.
func Dir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for lock files (%v): set XDG_CACHE_HOME or HOME", err)
	}
	dir := filepath.Join(base, "work365-audit", "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the lock directory: %w", err)
	}
	st, err := os.Lstat(dir)
	switch {
	case err != nil:
		return "", fmt.Errorf("lock directory: %w", err)
	case !st.IsDir():
		return "", fmt.Errorf("the lock directory %s is not a directory (a symbolic link?): remove it", dir)
	}
	if err := checkDirOwned(dir, st); err != nil {
		return "", err
	}
	return dir, nil
}

var errNotOwned = errors.New("is not a regular file of the current user")
