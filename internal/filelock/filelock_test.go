package filelock

import (
	"os"
	"os/exec"
	"path/filepath"
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
