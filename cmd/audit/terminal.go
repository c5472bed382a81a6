package main

import (
	"errors"
	"io"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/termtext"
)

// What audit prints mixes its own words (formats, labels, its colour codes) with text it was given: names,
// messages and URLs from tenants and Microsoft's APIs, which can hold escape sequences that clear a screen,
// retitle a window, hide a link or reorder a line. The given text is cleaned where it is formatted: printf
// cleans its arguments and keeps its format, and code that builds lines with its own escape sequences
// (progress, the table report) cleans each value it puts in.

// printf is termtext.Fprintf: the format as it is, every text argument cleaned to one line.
func printf(w io.Writer, format string, args ...any) { termtext.Fprintf(w, format, args...) }

// errorText is an error as audit prints it. Audit's own errors keep their line breaks (a config file's problems,
// one a line; a usage hint under a cobra error), cleaned by termtext.CleanLines. An error that carries a
// Microsoft API answer is printed on one line: a line break in it may come from the answer, and must not start
// a line that looks like audit's.
func errorText(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return termtext.Clean(err.Error())
	}
	return termtext.CleanLines(err.Error())
}
