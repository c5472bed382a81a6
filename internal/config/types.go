package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "30s", "5m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use forms like 90s, 5m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Date is a calendar day, compared in UTC.
type Date struct{ time.Time }

// UnmarshalYAML parses YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a date (use YYYY-MM-DD)", n.Line, n.Value)
	}
	d.Time = t.UTC()
	return nil
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}
