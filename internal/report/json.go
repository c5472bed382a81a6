package report

import (
	"io"

	"github.com/work365/audit/internal/snapshot"
)

func init() {
	register(Format{Name: "json", Ext: "json", New: func(Options) Reporter { return jsonReporter{} }})
}

// jsonReporter writes the canonical JSON report (documented by docs/report.schema.json), as json.Encoder
// encodes the Report with a two-space indent and no HTML escaping, but one environment and one result at a
// time: only the rest of the report is encoded in memory.
type jsonReporter struct{}

func (jsonReporter) Write(w io.Writer, r *Report) error {
	head := *r
	var splices []snapshot.Splice
	head.Environments, splices = cutArray(r.Environments, "environments", splices)
	head.Results, splices = cutArray(r.Results, "results", splices)
	if r.Drift != nil {
		// Persisting failures alone can be as many as the failing results.
		d := *r.Drift
		var ds []snapshot.Splice
		d.NewFailures, ds = cutArray(d.NewFailures, "new_failures", ds)
		d.Resolved, ds = cutArray(d.Resolved, "resolved", ds)
		d.Persisting, ds = cutArray(d.Persisting, "persisting", ds)
		d.Inventory, ds = cutArray(d.Inventory, "inventory", ds)
		head.Drift = &Drift{}
		splices = append(splices, snapshot.Splice{Key: "drift", Write: func(v *snapshot.JSONValue) error { return v.Encode(&d, ds...) }})
	}
	if r.Fix != nil {
		f := *r.Fix
		var fs []snapshot.Splice
		f.Outcomes, fs = cutArray(f.Outcomes, "outcomes", fs)
		head.Fix = &Fix{}
		splices = append(splices, snapshot.Splice{Key: "fix", Write: func(v *snapshot.JSONValue) error { return v.Encode(&f, fs...) }})
	}
	return snapshot.NewJSONWriter(w).Encode(&head, splices...)
}

// arraySplice writes items as the value of key, one element at a time.
func arraySplice[T any](key string, items []T) snapshot.Splice {
	return snapshot.Splice{Key: key, Write: func(v *snapshot.JSONValue) error {
		return v.Array(func(a *snapshot.JSONArray) error {
			for i := range items {
				if err := a.Add(&items[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}}
}

// cutArray cuts items down to a placeholder for their splice, added to splices; empty or nil items stay as
// they are.
func cutArray[T any](items []T, key string, splices []snapshot.Splice) ([]T, []snapshot.Splice) {
	if len(items) == 0 {
		return items, splices
	}
	return make([]T, 1), append(splices, arraySplice(key, items))
}
