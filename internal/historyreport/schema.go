package historyreport

import (
	_ "embed"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/work365/audit/internal/report"
)

// Schema is the JSON Schema (draft 2020-12) of the JSON history report. This embedded copy is the canonical
// one; docs/history-report.schema.json is kept identical to it by a test.
//
//go:embed schema/history-report.schema.json
var Schema []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return report.CompileSchema("history-report.schema.json", Schema)
})

// ValidateJSON checks a JSON history report against its schema.
func ValidateJSON(data []byte) error { return report.Validate(compiled, "history report", data) }
