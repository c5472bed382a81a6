package snapshot

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Items []string `json:"items,omitempty"`
	Note  string   `json:"note"`
}

type outer struct {
	First  string            `json:"first"`
	List   []inner           `json:"list,omitempty"`
	Nested *inner            `json:"nested,omitempty"`
	Map    map[string]string `json:"map"`
	Last   []int             `json:"last"`
}

// A document written with splices is byte for byte the document encoded whole, whatever the splices' values
// are (arrays, objects with splices of their own, fields with omitempty) and wherever they are.
func TestSplicedDocumentsAreWhatJSONEncoderWrites(t *testing.T) {
	t.Parallel()
	doc := outer{First: "<a & b>", List: []inner{{Items: []string{"x", "y"}, Note: "n\u2028"}, {Note: "{}"}},
		Nested: &inner{Items: []string{"p"}, Note: `"q"`}, Map: map[string]string{"k": "v"}, Last: []int{1, 2, 3}}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(doc))

	items := func(xs []string) Splice {
		return Splice{Key: "items", Write: func(v *JSONValue) error {
			return v.Array(func(a *JSONArray) error {
				for _, x := range xs {
					if err := a.Add(x); err != nil {
						return err
					}
				}
				return nil
			})
		}}
	}
	head := doc
	head.List = []inner{{}}
	head.Nested = &inner{}
	head.Last = []int{}
	var got bytes.Buffer
	err := NewJSONWriter(&got).Encode(head,
		Splice{Key: "last", Write: func(v *JSONValue) error {
			return v.Array(func(a *JSONArray) error {
				for _, n := range doc.Last {
					if err := a.Add(n); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		Splice{Key: "list", Write: func(v *JSONValue) error {
			return v.Array(func(a *JSONArray) error {
				for _, in := range doc.List {
					h := in
					if len(in.Items) == 0 {
						if err := a.Add(in); err != nil {
							return err
						}
						continue
					}
					h.Items = []string{""}
					if err := a.Add(h, items(in.Items)); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		Splice{Key: "nested", Write: func(v *JSONValue) error {
			h := *doc.Nested
			h.Items = []string{""}
			return v.Encode(h, items(doc.Nested.Items))
		}},
	)
	require.NoError(t, err)
	assert.Equal(t, want.String(), got.String())
}

func TestSplicesThatCannotBeWrittenAreErrors(t *testing.T) {
	t.Parallel()
	empty := func(v *JSONValue) error { return v.Array(func(*JSONArray) error { return nil }) }
	cases := map[string]struct {
		splices []Splice
		want    string
	}{
		"no such key":     {[]Splice{{Key: "nope", Write: empty}}, `json: no key "nope" to splice`},
		"a key deeper":    {[]Splice{{Key: "note", Write: empty}}, `json: no key "note" to splice`},
		"omitted":         {[]Splice{{Key: "nested", Write: empty}}, `json: no key "nested" to splice`},
		"nothing written": {[]Splice{{Key: "last", Write: func(*JSONValue) error { return nil }}}, `json: nothing written for key "last"`},
		"written twice": {[]Splice{{Key: "last", Write: func(v *JSONValue) error {
			_ = v.Encode(1)
			return v.Encode(2)
		}}}, "json: a value written twice"},
		"spliced twice": {[]Splice{{Key: "last", Write: empty}, {Key: "last", Write: empty}}, `json: key "last" spliced twice`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := outer{List: []inner{{Note: "x"}}, Last: []int{}}
			var buf bytes.Buffer
			assert.EqualError(t, NewJSONWriter(&buf).Encode(doc, tc.splices...), tc.want)
		})
	}
}
