package report

import (
	"encoding/json"
	"io"
)

func init() {
	register(Format{Name: "json", Ext: "json", New: func(Options) Reporter { return jsonReporter{} }})
}

// jsonReporter writes the canonical JSON report (documented by docs/report.schema.json).
type jsonReporter struct{}

func (jsonReporter) Write(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
