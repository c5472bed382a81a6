package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonDecoder turns a JSON document written by encoding/json (so valid and without insignificant space) into
// an ast.Value. An environment has a few hundred values and is decoded once per evaluation, so the decoder
// keeps allocations down: members and elements are collected on scratch stacks shared by the nested levels,
// object keys (field names) are shared terms, and so are booleans, null, empty strings and small integers.
type jsonDecoder struct {
	b     []byte
	i     int
	items [][2]*ast.Term
	elems []*ast.Term
}

var errJSON = errors.New("malformed JSON")

func (d *jsonDecoder) value() (ast.Value, error) {
	t, err := d.term()
	if err != nil {
		return nil, err
	}
	return t.Value, nil
}

func (d *jsonDecoder) term() (*ast.Term, error) {
	if d.i >= len(d.b) {
		return nil, errJSON
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return ast.ObjectTerm(), nil
		}
		start := len(d.items)
		for {
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, errJSON
			}
			d.i++
			v, err := d.term()
			if err != nil {
				return nil, err
			}
			d.items = append(d.items, [2]*ast.Term{keyTerm(k), v})
			if d.i >= len(d.b) {
				return nil, errJSON
			}
			d.i++
			if d.b[d.i-1] == '}' {
				obj := ast.NewObject(d.items[start:]...)
				clear(d.items[start:])
				d.items = d.items[:start]
				return ast.NewTerm(obj), nil
			}
			if d.b[d.i-1] != ',' {
				return nil, errJSON
			}
		}
	case c == '[':
		d.i++
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return ast.ArrayTerm(), nil
		}
		start := len(d.elems)
		for {
			v, err := d.term()
			if err != nil {
				return nil, err
			}
			d.elems = append(d.elems, v)
			if d.i >= len(d.b) {
				return nil, errJSON
			}
			d.i++
			if d.b[d.i-1] == ']' {
				elems := make([]*ast.Term, len(d.elems)-start)
				copy(elems, d.elems[start:])
				clear(d.elems[start:])
				d.elems = d.elems[:start]
				return ast.ArrayTerm(elems...), nil
			}
			if d.b[d.i-1] != ',' {
				return nil, errJSON
			}
		}
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if s == "" {
			return ast.InternedEmptyString, nil
		}
		return ast.StringTerm(s), nil
	case c == 't' && bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return ast.InternedTerm(true), nil
	case c == 'f' && bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return ast.InternedTerm(false), nil
	case c == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")):
		d.i += 4
		return ast.InternedNullTerm, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		for d.i < len(d.b) && strings.IndexByte("+-.0123456789eE", d.b[d.i]) >= 0 {
			d.i++
		}
		if d.i == start+1 && c >= '0' && c <= '9' {
			return ast.InternedTerm(int(c - '0')), nil
		}
		return ast.NumberTerm(json.Number(d.b[start:d.i])), nil
	}
	return nil, errJSON
}

// str reads a JSON string; escapes (rare in snapshots: encoding/json writes <, > and & as \u escapes) are
// left to encoding/json.
func (d *jsonDecoder) str() (string, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", errJSON
	}
	start := d.i
	escaped := false
	for d.i++; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '\\':
			escaped = true
			d.i++
		case '"':
			d.i++
			if !escaped {
				return string(d.b[start+1 : d.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", err
			}
			return s, nil
		}
	}
	return "", errJSON
}

// keyTerms holds a term per object key seen. Snapshots have no maps, so their keys are the field names of its
// types; the bound only guards against documents with data-derived keys.
var (
	keyTerms     sync.Map
	keyTermCount atomic.Int64
)

const maxKeyTerms = 4096

func keyTerm(k string) *ast.Term {
	if t, ok := keyTerms.Load(k); ok {
		return t.(*ast.Term)
	}
	t := ast.InternedTerm(k)
	if keyTermCount.Load() < maxKeyTerms {
		if prev, loaded := keyTerms.LoadOrStore(k, t); loaded {
			return prev.(*ast.Term)
		}
		keyTermCount.Add(1)
	}
	return t
}
