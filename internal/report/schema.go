package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is the JSON Schema (draft 2020-12) of the JSON report. This embedded copy is the canonical one;
// docs/report.schema.json is kept identical to it by a test.
//
//go:embed schema/report.schema.json
var Schema []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return CompileSchema("report.schema.json", Schema)
})

// CompileSchema compiles a JSON Schema document, asserting formats (date-time, date, …).
func CompileSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, v); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return s, nil
}

// ValidateJSON checks a JSON report against the report schema.
func ValidateJSON(data []byte) error { return Validate(compiled, "report", data) }

// Validate checks a JSON document (what names it in errors) against the schema schema gives.
func Validate(schema func() (*jsonschema.Schema, error), what string, data []byte) error {
	s, err := schema()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s does not match its schema: %w", what, err)
	}
	return nil
}
