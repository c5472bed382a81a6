package main

import "github.com/work365/audit/internal/audit"

// Exit codes: part of the contract that scripts and CI depend on (README, "Exit codes"; the root help).
const (
	exitOK        = audit.CodeOK        // nothing failing at or above --fail-on
	exitError     = audit.CodeError     // any other error
	exitUsage     = audit.CodeUsage     // usage or configuration error
	exitFailing   = audit.CodeFailing   // failing results at or above --fail-on
	exitUnaudited = audit.CodeUnaudited // an environment (or tenant) could not be audited; takes precedence over 3
	exitFixFailed = audit.CodeFixFailed // audit fix: a step failed or has an unknown outcome
)

// exitErr carries an exit code with an optional message.
type exitErr = audit.ExitError

func usageError(format string, args ...any) error { return audit.Usagef(format, args...) }

func withCode(code int, err error) error { return audit.WithCode(code, err) }

// codeOf maps an error to its exit code: 0 for nil, the carried code, else 1.
func codeOf(err error) int { return audit.CodeOf(err) }

func exitMeaning(code int) string {
	switch code {
	case exitOK:
		return "nothing failing at or above --fail-on"
	case exitFailing:
		return "failing results at or above --fail-on"
	case exitUnaudited:
		return "an environment could not be audited"
	case exitFixFailed:
		return "a fix step failed"
	}
	return "error"
}
