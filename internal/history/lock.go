package history

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/work365/audit/internal/filelock"
)

// ErrBusy is wrapped by the error of Acquire when another run holds the store.
var ErrBusy = errors.New("the history is in use by another run")

// lockFile takes an exclusive advisory lock on path (created owner-only), without waiting, and writes who
// holds it there for the next one to read.
func lockFile(path string, now time.Time) (*os.File, error) {
	f, err := filelock.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock history: %w", err)
	}
	if err := filelock.TryLock(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, filelock.ErrLocked) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%w (%s): runs on one history never interleave; wait for it to finish, or give this run another --history file",
				ErrBusy, who)
		}
		return nil, fmt.Errorf("lock history: %w", err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s", os.Getpid(), now.UTC().Format(time.RFC3339))), 0)
	return f, nil
}

func unlock(f *os.File) {
	if f == nil {
		return
	}
	_ = filelock.Unlock(f)
	f.Close()
}
