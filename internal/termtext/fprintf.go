package termtext

import (
	"fmt"
	"io"
	"reflect"
)

// Fprintf is fmt.Fprintf for output a person reads: the format is printed as it is, and every string (of any
// string type), []string, error and fmt.Stringer argument is printed as one line cleaned by Clean. A Stringer is printed as its
// cleaned String, so it takes %s, %v or %q. The arguments are cleaned in place (so that go vet still checks
// the format against them): a caller that passes a slice with ... hands it over.
func Fprintf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = Clean(v)
		case []string:
			c := make([]string, len(v))
			for j, s := range v {
				c[j] = Clean(s)
			}
			args[i] = c
		case error:
			args[i] = Clean(v.Error())
		case fmt.Stringer:
			args[i] = Clean(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String { // named string types
				args[i] = Clean(rv.String())
			}
		}
	}
	fmt.Fprintf(w, format, args...)
}
