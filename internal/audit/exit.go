package audit

import (
	"errors"
	"fmt"
)

// Exit codes: part of the contract that scripts and CI depend on (README, "Exit codes").
const (
	CodeOK        = 0 // nothing failing at or above --fail-on
	CodeError     = 1 // any other error
	CodeUsage     = 2 // usage or configuration error
	CodeFailing   = 3 // failing results at or above --fail-on
	CodeUnaudited = 4 // at least one environment (or tenant) could not be audited; takes precedence over 3
	CodeFixFailed = 5 // audit fix: at least one step failed or has an unknown outcome
)

// ExitError is an error that says which exit code it ends the process with; Err may be nil (a code alone).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the process exit code.
func (e *ExitError) ExitCode() int { return e.Code }

// Usagef is a usage or configuration error (exit code 2).
func Usagef(format string, args ...any) error {
	return &ExitError{Code: CodeUsage, Err: fmt.Errorf(format, args...)}
}

// WithCode gives err an exit code; nil stays nil.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// CodeOf maps an error to its exit code: 0 for nil, the carried code, else 1.
func CodeOf(err error) int {
	if err == nil {
		return CodeOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return CodeError
}

// ExitFor is the exit code contract of a report: 4 when something could not be audited, else 3 when something
// fails at or above the threshold, else 0 (as an error carrying the code, nil for 0).
func ExitFor(summaryErrors, failingAtOrAbove int) error {
	switch {
	case summaryErrors > 0:
		return &ExitError{Code: CodeUnaudited}
	case failingAtOrAbove > 0:
		return &ExitError{Code: CodeFailing}
	}
	return nil
}

// ErrInterrupted ends a run that a signal stopped before it could finish.
var ErrInterrupted = errors.New("interrupted: the run stopped before its end, and no report was written")
