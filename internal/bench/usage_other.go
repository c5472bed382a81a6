//go:build !unix

package bench

import "os"

// selfCPUSeconds is not measured on this system.
func selfCPUSeconds() float64 { return 0 }

// childUsage is a finished child's CPU time; its peak resident set is not measured on this system (0).
func childUsage(ps *os.ProcessState) (int64, float64) {
	return 0, (ps.UserTime() + ps.SystemTime()).Seconds()
}
