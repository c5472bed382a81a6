package fix

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/work365/audit/internal/filelock"
)

// Lock keeps two applies (or undos) from changing the same tenant at once. It is an advisory lock on a file
// per tenant, released by the kernel if the process dies.
type Lock struct {
	f *os.File
}

// LockDir is where the lock files live; empty means the user's cache directory (filelock.Dir), never a shared
// temporary directory. Tests point it elsewhere.
var LockDir = ""

// AcquireLock takes the lock of a tenant, reached through a BAP endpoint, or says who holds it. Two runs of
// the same user exclude each other whatever their TMPDIR.
func AcquireLock(tenantID, endpoint string, now time.Time) (*Lock, error) {
	dir := LockDir
	if dir == "" {
		var err error
		if dir, err = filelock.Dir(); err != nil {
			return nil, fmt.Errorf("lock tenant %s: %w", tenantID, err)
		}
	}
	sum := sha256.Sum256([]byte(strings.ToLower(tenantID) + "\x00" + strings.ToLower(endpoint)))
	p := filepath.Join(dir, "audit-fix-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := filelock.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lock tenant %s: %w", tenantID, err)
	}
	if err := filelock.TryLock(f); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, filelock.ErrLocked) {
			return nil, fmt.Errorf("another audit fix is changing tenant %s right now (%s): wait for it to finish; two runs must not interleave their writes",
				tenantID, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock tenant %s: %w", tenantID, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s", os.Getpid(), now.UTC().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

// Release gives the lock back.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = filelock.Unlock(l.f)
	l.f.Close()
	l.f = nil
}
