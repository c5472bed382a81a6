package main

import (
	"errors"
	"fmt"
)

// Exit codes: part of the contract that scripts and CI depend on (README, "Exit codes").
const (
	exitOK        = 0 // nothing failing at or above --fail-on
	exitError     = 1 // any other error
	exitUsage     = 2 // usage or configuration error
	exitFailing   = 3 // failing results at or above --fail-on
	exitUnaudited = 4 // at least one environment (or tenant) could not be audited; takes precedence over 3
)

// exitErr carries an exit code with an optional message.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// ExitCode returns the process exit code.
func (e *exitErr) ExitCode() int { return e.code }

func usageError(format string, args ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitErr{code: code, err: err}
}

// codeOf maps an error to its exit code: 0 for nil, the carried code, else 1.
func codeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return exitError
}
