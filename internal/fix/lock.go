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

// LockDir is where the lock files live; tests point it elsewhere.
var LockDir = os.TempDir()

// AcquireLock takes the lock of a tenant, reached through a BAP endpoint, or says who holds it.
func AcquireLock(tenantID, endpoint string, now time.Time) (*Lock, error) {
	sum := sha256.Sum256([]byte(strings.ToLower(tenantID) + "\x00" + strings.ToLower(endpoint)))
	p := filepath.Join(LockDir, "audit-fix-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
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
