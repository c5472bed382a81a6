package filelock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockHolds takes the lock in this process, then asks a child process (this test binary again) to take
// it: locks exclude other processes, not other file handles of the same process on every system.
func TestLockHolds(t *testing.T) {
	if path := os.Getenv("FILELOCK_CHILD"); path != "" {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		switch err := TryLock(f); err {
		case ErrLocked:
			os.Exit(3)
		case nil:
			os.Exit(0)
		default:
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := TryLock(f); err != nil {
		t.Fatalf("first lock: %v", err)
	}
	if _, err := f.WriteAt([]byte("pid 1"), 0); err != nil {
		t.Fatal(err)
	}
	child := func() int {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolds$")
		cmd.Env = append(os.Environ(), "FILELOCK_CHILD="+path)
		err := cmd.Run()
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatal(err)
		return -1
	}
	if code := child(); code != 3 {
		t.Fatalf("another process took a held lock (exit %d)", code)
	}
	if holder, err := os.ReadFile(path); err != nil || string(holder) != "pid 1" {
		t.Fatalf("the holder's note cannot be read: %q, %v", holder, err)
	}
	if err := Unlock(f); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if code := child(); code != 0 {
		t.Fatalf("the lock was not released (exit %d)", code)
	}
}

// A lock file is never followed through a symbolic link, and one of another kind is refused.
func TestOpenRefusesLinksAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "audit-fix.lock")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symbolic links are not available here")
	}
	if f, err := Open(link); err == nil {
		f.Close()
		t.Fatal("a symbolic link was opened as a lock file")
	}
	if got, _ := os.ReadFile(target); string(got) != "precious" {
		t.Fatalf("the link's target was changed: %q", got)
	}
	if f, err := Open(dir); err == nil {
		f.Close()
		t.Fatal("a directory was opened as a lock file")
	}
	loose := filepath.Join(dir, "loose.lock")
	if err := os.WriteFile(loose, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := Open(loose)
	if err != nil {
		t.Fatalf("an own lock file was refused: %v", err)
	}
	f.Close()
	if st, _ := os.Stat(loose); st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("the lock file stays readable by others: %v", st.Mode())
	}
}

// The lock directory follows the user's cache directory, not TMPDIR, and is owner-only.
func TestDirIsInTheUsersCacheWhateverTMPDIRSays(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Setenv("LocalAppData", cache)
	t.Setenv("TMPDIR", t.TempDir())
	first, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	second, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if first != second || !strings.HasPrefix(first, cache) {
		t.Fatalf("lock directories %s and %s, want one under %s", first, second, cache)
	}
	if st, err := os.Stat(first); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("lock directory mode: %v, %v", st, err)
	}
}
