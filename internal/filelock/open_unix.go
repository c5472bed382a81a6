//go:build unix

package filelock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
}

func isSymlinkRefusal(err error) bool { return errors.Is(err, syscall.ELOOP) }

func checkOwned(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok || int(sys.Uid) != os.Getuid() {
		return errNotOwned
	}
	if st.Mode().Perm()&0o077 != 0 {
		// Created by an earlier version with the umask's bits: make it owner-only.
		return f.Chmod(0o600)
	}
	return nil
}

func checkDirOwned(dir string, st os.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("the lock directory %s belongs to another user: remove it", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
