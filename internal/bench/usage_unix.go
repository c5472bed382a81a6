//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// childUsage is a finished child's peak resident set in bytes and its CPU time in seconds.
func childUsage(ps *os.ProcessState) (int64, float64) {
	cpu := (ps.UserTime() + ps.SystemTime()).Seconds()
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, cpu
	}
	maxRSS := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		maxRSS <<= 10 // kilobytes, except on macOS (bytes)
	}
	return maxRSS, cpu
}
