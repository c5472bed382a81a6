package historyreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/work365/audit/internal/snapshot"
)

// Format is an output format of the history report.
type Format struct {
	Name  string
	Ext   string // of history.<ext> in the output directory
	write func(io.Writer, *Report) error
}

// Write renders r.
func (f Format) Write(w io.Writer, r *Report) error { return f.write(w, r) }

var formats = []Format{
	{Name: "html", Ext: "html", write: writeHTML},
	{Name: "markdown", Ext: "md", write: writeMarkdown},
	{Name: "json", Ext: "json", write: writeJSON},
}

// Names lists the formats.
func Names() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.Name
	}
	return out
}

func lookup(name string) (Format, bool) {
	for _, f := range formats {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

// ParseFormats reads a comma-separated --format value, without duplicates; an unknown name is an error.
func ParseFormats(s string) ([]Format, error) {
	var out []Format
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		f, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("unknown format %q: the history report is written as %s", name, strings.Join(Names(), ", "))
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no format given: the history report is written as %s", strings.Join(Names(), ", "))
	}
	return out, nil
}

// WriteFiles renders each format to dir/history.<ext>, readable by its owner only (the directory is
// created 0700), and returns the paths written, sorted.
func WriteFiles(dir string, fs []Format, r *Report) ([]string, error) {
	var written []string
	for _, f := range fs {
		var buf bytes.Buffer
		if err := f.Write(&buf, r); err != nil {
			return written, fmt.Errorf("render %s history report: %w", f.Name, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return written, fmt.Errorf("create output directory: %w", err)
		}
		p := filepath.Join(dir, "history."+f.Ext)
		if err := snapshot.WriteFilePrivate(p, buf.Bytes()); err != nil {
			return written, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	sort.Strings(written)
	return written, nil
}

func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
