package main

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/termtext"
)

// What audit prints mixes its own words (formats, labels, its colour codes) with text it was given: names,
// messages and URLs from tenants and Microsoft's APIs, which can hold escape sequences that clear a screen,
// retitle a window, hide a link or reorder a line. The given text is cleaned where it is formatted: printf
// cleans its arguments and keeps its format, and code that builds lines with its own escape sequences
// (progress, the table report) cleans each value it puts in.

// printf is fmt.Fprintf for output a person reads: the format is printed as it is, and every string (of any
// string type), []string, error and fmt.Stringer argument is printed as one line cleaned by termtext.Clean. A Stringer is printed as its
// cleaned String, so it takes %s, %v or %q. The arguments are cleaned in place (so that go vet still checks
// the format against them): a caller that passes a slice with ... hands it over.
func printf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = termtext.Clean(v)
		case []string:
			c := make([]string, len(v))
			for j, s := range v {
				c[j] = termtext.Clean(s)
			}
			args[i] = c
		case error:
			args[i] = termtext.Clean(v.Error())
		case fmt.Stringer:
			args[i] = termtext.Clean(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String { // named string types
				args[i] = termtext.Clean(rv.String())
			}
		}
	}
	fmt.Fprintf(w, format, args...)
}

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
