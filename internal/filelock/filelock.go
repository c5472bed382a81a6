// Package filelock takes exclusive advisory locks on files. The operating system releases a lock when the
// process that holds it ends, however it ends, so a crashed run never leaves a tenant or a history locked.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// TryLock takes an exclusive lock on f without waiting.
func TryLock(f *os.File) error { return tryLock(f) }

// Unlock releases the lock taken on f.
func Unlock(f *os.File) error { return unlock(f) }
