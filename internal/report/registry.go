package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/work365/audit/internal/snapshot"
)

// Reporter renders a report in one format.
type Reporter interface {
	// Write renders r to w.
	Write(w io.Writer, r *Report) error
}

// Options are shared by the reporters that care about them.
type Options struct {
	Color bool // ANSI colour (terminal only, never with NO_COLOR)
	Width int  // terminal width for the table; 0 means 100
	// Source is the file SARIF results are located in, for dashboards that need a physical location.
	Source *SourceFile
}

// Format is a registered output format.
type Format struct {
	Name string
	Ext  string // file extension of report.<ext> in --output
	// File is the name of the file in --output when it is not report.<ext> (a second CSV, for one).
	File string
	New  func(Options) Reporter
}

// FileName is the name the format is written to in --output.
func (f Format) FileName() string {
	if f.File != "" {
		return f.File
	}
	return "report." + f.Ext
}

var formats = map[string]Format{}

// register adds a format; called from each format's init.
func register(f Format) {
	if _, dup := formats[f.Name]; dup {
		panic("report: format registered twice: " + f.Name)
	}
	formats[f.Name] = f
}

// Lookup returns the format named name.
func Lookup(name string) (Format, error) {
	f, ok := formats[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Format{}, fmt.Errorf("unknown format %q: known formats are %s", name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// Names lists the registered formats in order.
func Names() []string {
	out := make([]string, 0, len(formats))
	for n := range formats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ParseList parses a comma-separated --format value into known formats, without duplicates.
func ParseList(s string) ([]Format, error) {
	var out []Format
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || seen[name] {
			continue
		}
		f, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		seen[name] = true
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no format given: known formats are %s", strings.Join(Names(), ", "))
	}
	return out, nil
}

// Terminal is the format written to standard output rather than to a file.
const Terminal = "table"

// WriteFiles writes every format but the table to its file in dir (report.<ext>, or the format's own name),
// readable by its owner only (the directory is created 0700), and returns the paths written, sorted. Each
// format is written straight to a temporary file beside its report, which replaces the report once complete: a
// run that fails or dies midway leaves no half-written report. The HTML report of a fleet (IsFleet) is a
// summary in report.html with each tenant's full report in tenants/.
func WriteFiles(dir string, fs []Format, r *Report, opts Options) ([]string, error) {
	var written []string
	for _, f := range fs {
		if f.Name == Terminal {
			continue
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return written, fmt.Errorf("create output directory: %w", err)
		}
		if f.Name == "html" && IsFleet(r) {
			files, err := writeFleetFiles(dir, f, r)
			written = append(written, files...)
			if err != nil {
				return written, err
			}
			continue
		}
		p := filepath.Join(dir, f.FileName())
		if err := snapshot.WritePrivate(p, func(w io.Writer) error { return f.New(opts).Write(w, r) }); err != nil {
			return written, fmt.Errorf("write %s report %s: %w", f.Name, p, err)
		}
		written = append(written, p)
	}
	sort.Strings(written)
	return written, nil
}
