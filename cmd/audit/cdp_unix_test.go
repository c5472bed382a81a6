//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the command in a process group of its own, so that stopping it reaches the helper
// processes Chromium starts (renderer, GPU, utility), which would otherwise keep writing to its profile.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the command's process group.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
