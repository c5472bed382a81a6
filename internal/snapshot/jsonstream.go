package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// JSON written piece by piece.
//
// The snapshot and the JSON reports are written exactly as json.Encoder writes them with a two-space indent
// and no HTML escaping, but without ever holding a whole document's encoding in memory. json.Encoder indents
// each line by the depth of what it holds and nothing else, so a value encoded on its own, with the prefix of
// the depth where it goes, is byte for byte what the whole document's encoding holds there. A document is
// therefore encoded with its large values cut down to placeholders, and as it is written out each placeholder
// is replaced by its value, written element by element. Every other field is encoded by json.Encoder as it is:
// a field added to a type comes out right with no change here.

// jsonIndent is the indent of every JSON document written here.
const jsonIndent = "  "

// JSONWriter writes indented JSON documents to a buffered writer.
type JSONWriter struct {
	w    *bufio.Writer
	free []*jsonBuffer
}

// jsonBuffer is an encoder and the buffer it encodes one value into.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// NewJSONWriter returns a writer of JSON to w, buffered (w itself when it is a large enough bufio.Writer).
func NewJSONWriter(w io.Writer) *JSONWriter {
	return &JSONWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Splice replaces the value of one key of an object, as the object is written, by what Write writes there.
// The object's own encoding holds a placeholder for it, small but present (a field with omitempty must not
// be empty).
type Splice struct {
	Key   string // a key of the object itself, not of an object inside it
	Write func(v *JSONValue) error
}

// JSONValue is the place of one value: Write writes it exactly once, whole with Encode or element by element
// with Array.
type JSONValue struct {
	j       *JSONWriter
	prefix  string // of the lines of the value
	written bool
}

// JSONArray is an array being written, one element at a time.
type JSONArray struct {
	j       *JSONWriter
	prefix  string // of the lines of the array
	entries int
}

// Encode writes v and a newline, as json.Encoder.Encode does with SetIndent("", "  ") and SetEscapeHTML(false),
// with the value of each splice's key written by the splice, then flushes the writer.
func (j *JSONWriter) Encode(v any, splices ...Splice) error {
	if err := j.value("", v, splices); err != nil {
		return err
	}
	if err := j.w.WriteByte('\n'); err != nil {
		return err
	}
	return j.w.Flush()
}

// Encode writes x as the value, with the value of each splice's key written by the splice.
func (v *JSONValue) Encode(x any, splices ...Splice) error {
	if err := v.use(); err != nil {
		return err
	}
	return v.j.value(v.prefix, x, splices)
}

// Array writes the value as an array whose elements add adds.
func (v *JSONValue) Array(add func(a *JSONArray) error) error {
	if err := v.use(); err != nil {
		return err
	}
	a := &JSONArray{j: v.j, prefix: v.prefix}
	if err := add(a); err != nil {
		return err
	}
	return a.close()
}

func (v *JSONValue) use() error {
	if v.written {
		return fmt.Errorf("json: a value written twice")
	}
	v.written = true
	return nil
}

// Add writes x as the next element, with the value of each splice's key written by the splice.
func (a *JSONArray) Add(x any, splices ...Splice) error {
	if err := a.next(); err != nil {
		return err
	}
	return a.j.value(a.elementPrefix(), x, splices)
}

// addEncoded copies the next element, encoded beforehand with the prefix of this array's elements (and
// without the newline json.Encoder ends it with).
func (a *JSONArray) addEncoded(r io.Reader) error {
	if err := a.next(); err != nil {
		return err
	}
	_, err := io.Copy(a.j.w, r)
	return err
}

func (a *JSONArray) elementPrefix() string { return a.prefix + jsonIndent }

func (a *JSONArray) next() error {
	sep := ",\n"
	if a.entries == 0 {
		sep = "[\n"
	}
	a.entries++
	if _, err := a.j.w.WriteString(sep); err != nil {
		return err
	}
	_, err := a.j.w.WriteString(a.elementPrefix())
	return err
}

func (a *JSONArray) close() error {
	if a.entries == 0 {
		_, err := a.j.w.WriteString("[]")
		return err
	}
	_, err := a.j.w.WriteString("\n" + a.prefix + "]")
	return err
}

// value writes x, whose lines begin with prefix, replacing the values of the splices' keys.
func (j *JSONWriter) value(prefix string, x any, splices []Splice) error {
	b := j.get()
	defer j.put(b)
	data, err := b.encode(prefix, x)
	if err != nil {
		return err
	}
	if len(splices) == 0 {
		_, err := j.w.Write(data)
		return err
	}
	type cut struct {
		start, end int
		splice     Splice
	}
	cuts := make([]cut, 0, len(splices))
	for _, s := range splices {
		start, end, err := valueOf(data, prefix, s.Key)
		if err != nil {
			return err
		}
		i := len(cuts)
		for i > 0 && cuts[i-1].start > start {
			i--
		}
		cuts = append(cuts, cut{})
		copy(cuts[i+1:], cuts[i:])
		cuts[i] = cut{start, end, s}
	}
	pos := 0
	for _, c := range cuts {
		if c.start < pos {
			return fmt.Errorf("json: key %q spliced twice", c.splice.Key)
		}
		if _, err := j.w.Write(data[pos:c.start]); err != nil {
			return err
		}
		v := &JSONValue{j: j, prefix: prefix + jsonIndent}
		if err := c.splice.Write(v); err != nil {
			return err
		}
		if !v.written {
			return fmt.Errorf("json: nothing written for key %q", c.splice.Key)
		}
		pos = c.end
	}
	_, err = j.w.Write(data[pos:])
	return err
}

// valueOf finds the value of key in the encoding of an object whose lines begin with prefix. The object's own
// keys are the only lines that begin with the prefix and one indent followed by a quote (a string never holds
// a line break, and what is deeper is indented further), so the value runs from its key to the next of them or
// to the object's closing brace.
func valueOf(data []byte, prefix, key string) (start, end int, err error) {
	keyLine := "\n" + prefix + jsonIndent + `"`
	pattern := []byte(keyLine + key + `": `)
	i := bytes.Index(data, pattern)
	if i < 0 {
		return 0, 0, fmt.Errorf("json: no key %q to splice", key)
	}
	start = i + len(pattern)
	rest := data[start:]
	end = len(data)
	if k := bytes.Index(rest, []byte(keyLine)); k >= 0 {
		end = start + k - 1 // before the comma that ends the line
	} else if k := bytes.Index(rest, []byte("\n"+prefix+"}")); k >= 0 {
		end = start + k
	} else {
		return 0, 0, fmt.Errorf("json: the value of key %q does not end", key)
	}
	return start, end, nil
}

// encode encodes x with prefix, without the newline json.Encoder ends it with. The bytes are valid until the
// buffer's next use.
func (b *jsonBuffer) encode(prefix string, x any) ([]byte, error) {
	b.buf.Reset()
	b.enc.SetIndent(prefix, jsonIndent)
	if err := b.enc.Encode(x); err != nil {
		return nil, err
	}
	data := b.buf.Bytes()
	return data[:len(data)-1], nil
}

func newJSONBuffer() *jsonBuffer {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}

// get returns a free buffer: one per level of splices in progress, each kept for the next document part.
func (j *JSONWriter) get() *jsonBuffer {
	if n := len(j.free); n > 0 {
		b := j.free[n-1]
		j.free = j.free[:n-1]
		return b
	}
	return newJSONBuffer()
}

func (j *JSONWriter) put(b *jsonBuffer) {
	// An element far larger than the rest (an environment with thousands of users) does not stay allocated.
	if b.buf.Cap() > 1<<20 {
		return
	}
	j.free = append(j.free, b)
}
