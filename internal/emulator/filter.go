package emulator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The $filter subset: comparisons (eq ne gt ge lt le) of a column with a literal, and/or/not, parentheses,
// startswith/endswith/contains, and Microsoft.Dynamics.CRM.In. Strings compare case-insensitively, as the
// Dataverse collation does.

type tokenKind int

const (
	tkEOF tokenKind = iota
	tkIdent
	tkString
	tkInt
	tkGUID
	tkDateTime
	tkLParen
	tkRParen
	tkComma
	tkEquals
	tkLBracket
	tkRBracket
	tkSlash
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

var (
	dateTimePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?`)
	numberPattern   = regexp.MustCompile(`^-?\d+(\.\d+)?`)
)

func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.' }

// queryError is a 400 answer to a malformed or unsupported query.
type queryError struct{ message string }

func (e *queryError) Error() string { return e.message }

func syntaxError(pos int, text string) *queryError {
	return &queryError{fmt.Sprintf("Syntax error at position %d in '%s'.", pos, text)}
}

func lex(s string) ([]token, *queryError) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == '(':
			out = append(out, token{tkLParen, "(", i})
		case c == ')':
			out = append(out, token{tkRParen, ")", i})
		case c == ',':
			out = append(out, token{tkComma, ",", i})
		case c == '=':
			out = append(out, token{tkEquals, "=", i})
		case c == '[':
			out = append(out, token{tkLBracket, "[", i})
		case c == ']':
			out = append(out, token{tkRBracket, "]", i})
		case c == '/':
			out = append(out, token{tkSlash, "/", i})
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, &queryError{fmt.Sprintf("There is an unterminated string literal at position %d in '%s'.", i, s)}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{tkString, b.String(), i})
			i = j + 1
			continue
		default:
			rest := s[i:]
			if len(rest) >= 36 && isGUID(rest[:36]) && (len(rest) == 36 || !isIdentChar(rest[36])) {
				out = append(out, token{tkGUID, strings.ToLower(rest[:36]), i})
				i += 36
				continue
			}
			if m := dateTimePattern.FindString(rest); m != "" && (len(m) == len(rest) || !isIdentChar(rest[len(m)])) {
				out = append(out, token{tkDateTime, m, i})
				i += len(m)
				continue
			}
			if m := numberPattern.FindString(rest); m != "" {
				out = append(out, token{tkInt, m, i})
				i += len(m)
				continue
			}
			if isIdentStart(c) {
				j := i
				for j < len(s) && isIdentChar(s[j]) {
					j++
				}
				out = append(out, token{tkIdent, s[i:j], i})
				i = j
				continue
			}
			return nil, syntaxError(i, s)
		}
		i++
	}
	return append(out, token{tkEOF, "", len(s)}), nil
}

// filterNode is a parsed $filter expression.
type filterNode interface {
	eval(r row) bool
}

type andNode struct{ l, r filterNode }
type orNode struct{ l, r filterNode }
type notNode struct{ x filterNode }

func (n andNode) eval(r row) bool { return n.l.eval(r) && n.r.eval(r) }
func (n orNode) eval(r row) bool  { return n.l.eval(r) || n.r.eval(r) }
func (n notNode) eval(r row) bool { return !n.x.eval(r) }

type cmpNode struct {
	col string
	typ colType
	op  string
	lit any // nil for null
}

func (n cmpNode) eval(r row) bool {
	v := r[n.col]
	if n.lit == nil || v == nil {
		switch n.op {
		case "eq":
			return v == nil && n.lit == nil
		case "ne":
			return (v == nil) != (n.lit == nil)
		}
		return false
	}
	c := compareValues(v, n.lit, n.typ)
	switch n.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

type funcNode struct {
	fn  string
	col string
	arg string
}

func (n funcNode) eval(r row) bool {
	v, ok := r[n.col].(string)
	if !ok {
		return false
	}
	v, a := strings.ToLower(v), strings.ToLower(n.arg)
	switch n.fn {
	case "startswith":
		return strings.HasPrefix(v, a)
	case "endswith":
		return strings.HasSuffix(v, a)
	}
	return strings.Contains(v, a)
}

type inNode struct {
	col    string
	typ    colType
	values []any
}

func (n inNode) eval(r row) bool {
	v := r[n.col]
	if v == nil {
		return false
	}
	for _, x := range n.values {
		if compareValues(v, x, n.typ) == 0 {
			return true
		}
	}
	return false
}

// compareValues orders two non-nil values of a column type.
func compareValues(a, b any, t colType) int {
	switch t {
	case tString:
		return strings.Compare(strings.ToLower(fmt.Sprint(a)), strings.ToLower(fmt.Sprint(b)))
	case tGUID:
		return strings.Compare(strings.ToLower(fmt.Sprint(a)), strings.ToLower(fmt.Sprint(b)))
	case tInt:
		x, y := toFloat(a), toFloat(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case tBool:
		x, y := a == true, b == true
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case tDateTime:
		x, y := toTime(a), toTime(b)
		return x.Compare(y)
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
	return f
}

func toTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t
		}
		if t, err := time.Parse("2006-01-02", x); err == nil {
			return t
		}
	}
	return time.Time{}
}

// navCmpNode compares a column of the row a lookup points to (publisherid/uniquename eq 'x'); a null lookup
// compares as a null column. It reads the store at evaluation, under the caller's lock.
type navCmpNode struct {
	st     *store
	column string // the lookup's _x_value
	target string // entity set of the referenced table
	cmp    cmpNode
}

func (n navCmpNode) eval(r row) bool {
	id, _ := r[n.column].(string)
	ref := n.st.tables[n.target][id]
	if ref == nil {
		ref = row{}
	}
	return n.cmp.eval(ref)
}

// filterParser is a recursive descent parser over the lexed tokens.
type filterParser struct {
	src    string
	toks   []token
	i      int
	schema *entitySchema
	st     *store
}

func parseFilter(src string, schema *entitySchema, st *store) (filterNode, *queryError) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, schema: schema, st: st}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, syntaxError(p.peek().pos, src)
	}
	return n, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *filterParser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tkIdent && t.text == word
}

func (p *filterParser) expect(k tokenKind) (token, *queryError) {
	t := p.next()
	if t.kind != k {
		return t, syntaxError(t.pos, p.src)
	}
	return t, nil
}

func (p *filterParser) or() (filterNode, *queryError) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *filterParser) and() (filterNode, *queryError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *filterParser) unary() (filterNode, *queryError) {
	if p.isKeyword("not") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.primary()
}

var comparisonOps = map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}

func (p *filterParser) primary() (filterNode, *queryError) {
	t := p.peek()
	if t.kind == tkLParen {
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tkRParen); err != nil {
			return nil, err
		}
		return n, nil
	}
	if t.kind != tkIdent {
		return nil, syntaxError(t.pos, p.src)
	}
	p.next()
	if p.peek().kind == tkLParen {
		return p.function(t)
	}
	if p.peek().kind == tkSlash {
		return p.navigationPath(t)
	}
	return p.comparison(t, p.schema)
}

// navigationPath parses "<lookup navigation>/<column> <op> <literal>" after the navigation property's name
// (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows, filter on lookup values).
func (p *filterParser) navigationPath(nav token) (filterNode, *queryError) {
	lk, ok := p.schema.lookups[nav.text]
	if !ok {
		if _, collection := p.schema.collections[nav.text]; collection {
			return nil, &queryError{fmt.Sprintf("The emulator supports only single-valued navigation paths in $filter; '%s' is collection-valued (lambda operators are not supported).", nav.text)}
		}
		return nil, unknownProperty(nav.text, p.schema)
	}
	p.next() // /
	col := p.next()
	if col.kind != tkIdent || p.peek().kind == tkSlash || p.peek().kind == tkLParen {
		return nil, &queryError{fmt.Sprintf("The emulator supports only '<navigation>/<column> <operator> <literal>' paths in $filter, one level deep, after '%s/'.", nav.text)}
	}
	target := p.st.schemas[lk.target]
	n, err := p.comparison(col, target)
	if err != nil {
		return nil, err
	}
	return navCmpNode{st: p.st, column: lk.column, target: lk.target, cmp: n.(cmpNode)}, nil
}

// comparison parses "<op> <literal>" after a column of schema.
func (p *filterParser) comparison(t token, schema *entitySchema) (filterNode, *queryError) {
	typ, ok := schema.columns[t.text]
	if !ok {
		return nil, unknownProperty(t.text, schema)
	}
	opTok := p.next()
	opName, ok := comparisonOps[opTok.text]
	if opTok.kind != tkIdent || !ok {
		return nil, syntaxError(opTok.pos, p.src)
	}
	lit, litType, err := p.literal()
	if err != nil {
		return nil, err
	}
	if litType != "null" && (typ == tObject || !literalFits(typ, litType)) {
		return nil, &queryError{fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", typ.edm(), litType, opName)}
	}
	return cmpNode{col: t.text, typ: typ, op: opTok.text, lit: lit}, nil
}

func literalFits(t colType, edm string) bool {
	switch t {
	case tString:
		return edm == "Edm.String"
	case tGUID:
		return edm == "Edm.Guid"
	case tInt:
		return edm == "Edm.Int32"
	case tBool:
		return edm == "Edm.Boolean"
	case tDateTime:
		return edm == "Edm.DateTimeOffset" || edm == "Edm.Date"
	}
	return false
}

// literal reads a literal and returns its value and Edm type name ("null" for null).
func (p *filterParser) literal() (any, string, *queryError) {
	t := p.next()
	switch t.kind {
	case tkString:
		return t.text, "Edm.String", nil
	case tkGUID:
		return t.text, "Edm.Guid", nil
	case tkInt:
		if strings.Contains(t.text, ".") {
			f, _ := strconv.ParseFloat(t.text, 64)
			return f, "Edm.Decimal", nil
		}
		n, err := strconv.Atoi(t.text)
		if err != nil {
			return nil, "", syntaxError(t.pos, p.src)
		}
		return n, "Edm.Int32", nil
	case tkDateTime:
		tm := toTime(t.text)
		if tm.IsZero() {
			return nil, "", syntaxError(t.pos, p.src)
		}
		if len(t.text) == 10 {
			return tm, "Edm.Date", nil
		}
		return tm, "Edm.DateTimeOffset", nil
	case tkIdent:
		switch t.text {
		case "null":
			return nil, "null", nil
		case "true":
			return true, "Edm.Boolean", nil
		case "false":
			return false, "Edm.Boolean", nil
		}
	}
	return nil, "", syntaxError(t.pos, p.src)
}

func (p *filterParser) function(name token) (filterNode, *queryError) {
	p.next() // (
	switch name.text {
	case "startswith", "endswith", "contains":
		col, err := p.expect(tkIdent)
		if err != nil {
			return nil, err
		}
		typ, ok := p.schema.columns[col.text]
		if !ok {
			return nil, unknownProperty(col.text, p.schema)
		}
		if _, err := p.expect(tkComma); err != nil {
			return nil, err
		}
		arg, err := p.expect(tkString)
		if typ != tString || err != nil {
			return nil, &queryError{fmt.Sprintf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name.text, name.text)}
		}
		if _, err := p.expect(tkRParen); err != nil {
			return nil, err
		}
		return funcNode{fn: name.text, col: col.text, arg: arg.text}, nil
	case "Microsoft.Dynamics.CRM.In":
		return p.in()
	}
	if strings.HasPrefix(name.text, "Microsoft.Dynamics.CRM.") {
		return nil, &queryError{fmt.Sprintf("The query function '%s' is not supported by the emulator; only Microsoft.Dynamics.CRM.In is.", name.text)}
	}
	return nil, &queryError{fmt.Sprintf("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name.text)}
}

// in parses Microsoft.Dynamics.CRM.In(PropertyName='col',PropertyValues=['a','b']) after its "(".
func (p *filterParser) in() (filterNode, *queryError) {
	param := func(name string) *queryError {
		t, err := p.expect(tkIdent)
		if err != nil {
			return err
		}
		if t.text != name {
			return &queryError{fmt.Sprintf("Microsoft.Dynamics.CRM.In expects the parameter '%s', found '%s'.", name, t.text)}
		}
		_, err = p.expect(tkEquals)
		return err
	}
	if err := param("PropertyName"); err != nil {
		return nil, err
	}
	colTok, err := p.expect(tkString)
	if err != nil {
		return nil, err
	}
	typ, ok := p.schema.columns[colTok.text]
	if !ok {
		return nil, unknownProperty(colTok.text, p.schema)
	}
	if _, err := p.expect(tkComma); err != nil {
		return nil, err
	}
	if err := param("PropertyValues"); err != nil {
		return nil, err
	}
	if _, err := p.expect(tkLBracket); err != nil {
		return nil, err
	}
	n := inNode{col: colTok.text, typ: typ}
	for {
		v, err := p.expect(tkString)
		if err != nil {
			return nil, err
		}
		val, convErr := convertString(v.text, typ)
		if convErr != nil {
			return nil, &queryError{fmt.Sprintf("Microsoft.Dynamics.CRM.In: the value '%s' is not valid for '%s' (%s).", v.text, colTok.text, typ.edm())}
		}
		n.values = append(n.values, val)
		if p.peek().kind == tkComma {
			p.next()
			continue
		}
		break
	}
	if _, err := p.expect(tkRBracket); err != nil {
		return nil, err
	}
	if _, err := p.expect(tkRParen); err != nil {
		return nil, err
	}
	return n, nil
}

// convertString reads the string form of a value of a column type (query function parameters are strings).
func convertString(s string, t colType) (any, error) {
	switch t {
	case tGUID:
		if !isGUID(s) {
			return nil, fmt.Errorf("not a GUID")
		}
		return strings.ToLower(s), nil
	case tInt:
		return strconv.Atoi(s)
	case tBool:
		return strconv.ParseBool(s)
	case tDateTime:
		tm := toTime(s)
		if tm.IsZero() {
			return nil, fmt.Errorf("not a date")
		}
		return tm, nil
	case tObject:
		return nil, fmt.Errorf("not comparable")
	}
	return s, nil
}

func unknownProperty(name string, s *entitySchema) *queryError {
	return &queryError{fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, s.typeName())}
}
