//go:build !unix

package filelock

import "os"

// Windows has no O_NOFOLLOW; a lock file under the user's own profile (Dir) is not writable by others.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}

func isSymlinkRefusal(error) bool { return false }

func checkOwned(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errNotOwned
	}
	return nil
}

func checkDirOwned(string, os.FileInfo) error { return nil }
