package emulator

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const (
	defaultPageSize  = 5000
	maxExpandedItems = 5000
)

// queryOptions are the parsed OData system query options of one request (or of one $expand item).
type queryOptions struct {
	sel       []string // nil: all columns
	filter    filterNode
	filterRaw string
	orderby   []orderItem
	orderRaw  string
	top       int // -1: none
	count     bool
	expands   []*expandItem
	cookie    *pageCookie
}

type orderItem struct {
	col  string
	typ  colType
	desc bool
}

type expandItem struct {
	nav        string
	collection bool
	target     *entitySchema
	lookupCol  string
	opts       *queryOptions
}

var supportedOptions = map[string]bool{"$select": true, "$filter": true, "$orderby": true, "$top": true, "$expand": true, "$skiptoken": true, "$count": true}

// parseQueryOptions reads the query string of a Dataverse GET.
func parseQueryOptions(rawQuery string, schema *entitySchema, st *store) (*queryOptions, *queryError) {
	values, err := splitQuery(rawQuery)
	if err != nil {
		return nil, &queryError{"The query string is not valid: " + err.Error()}
	}
	for k := range values {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		if !supportedOptions[k] {
			return nil, &queryError{fmt.Sprintf("The query parameter %s is not supported", k)}
		}
	}
	get := func(k string) (string, bool) {
		v, ok := values[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	q, qerr := parseOptionSet(get, schema, st, true)
	if qerr != nil {
		return nil, qerr
	}
	if v, ok := get("$skiptoken"); ok {
		c, err := parseSkipToken(v)
		if err != nil {
			return nil, &queryError{"The $skiptoken is not valid: " + err.Error()}
		}
		q.cookie = c
	}
	if v, ok := get("$count"); ok {
		q.count = v == "true"
	}
	return q, nil
}

// splitQuery is url.ParseQuery without its refusal of ";", which OData uses inside $expand options.
func splitQuery(raw string) (url.Values, error) {
	out := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		out[key] = append(out[key], value)
	}
	return out, nil
}

// parseOptionSet parses $select, $filter, $orderby, $top and (top level only) $expand.
func parseOptionSet(get func(string) (string, bool), schema *entitySchema, st *store, allowExpand bool) (*queryOptions, *queryError) {
	q := &queryOptions{top: -1}
	if v, ok := get("$select"); ok {
		for _, c := range strings.Split(v, ",") {
			c = strings.TrimSpace(c)
			if _, ok := schema.columns[c]; !ok {
				return nil, unknownProperty(c, schema)
			}
			q.sel = append(q.sel, c)
		}
	}
	if v, ok := get("$filter"); ok {
		f, err := parseFilter(v, schema, st)
		if err != nil {
			return nil, err
		}
		q.filter, q.filterRaw = f, v
	}
	if v, ok := get("$orderby"); ok {
		q.orderRaw = v
		for _, item := range strings.Split(v, ",") {
			fields := strings.Fields(item)
			if len(fields) == 0 || len(fields) > 2 || (len(fields) == 2 && fields[1] != "asc" && fields[1] != "desc") {
				return nil, &queryError{fmt.Sprintf("Syntax error in $orderby '%s'.", v)}
			}
			typ, ok := schema.columns[fields[0]]
			if !ok {
				return nil, unknownProperty(fields[0], schema)
			}
			q.orderby = append(q.orderby, orderItem{col: fields[0], typ: typ, desc: len(fields) == 2 && fields[1] == "desc"})
		}
	}
	if v, ok := get("$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, &queryError{fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)}
		}
		q.top = n
	}
	if v, ok := get("$expand"); ok {
		if !allowExpand {
			return nil, &queryError{"The emulator does not support nested $expand."}
		}
		items, err := parseExpand(v, schema, st)
		if err != nil {
			return nil, err
		}
		q.expands = items
	}
	return q, nil
}

// splitTopLevel splits on sep outside parentheses.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inString = !inString
		case inString:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseExpand(v string, schema *entitySchema, st *store) ([]*expandItem, *queryError) {
	schemas := st.schemas
	var items []*expandItem
	for _, part := range splitTopLevel(v, ',') {
		part = strings.TrimSpace(part)
		nav, inner, hasOpts := strings.Cut(part, "(")
		nav = strings.TrimSpace(nav)
		if hasOpts {
			if !strings.HasSuffix(inner, ")") {
				return nil, &queryError{fmt.Sprintf("Syntax error in $expand '%s'.", v)}
			}
			inner = strings.TrimSuffix(inner, ")")
		}
		item := &expandItem{nav: nav}
		if target, ok := schema.collections[nav]; ok {
			item.collection, item.target = true, schemas[target]
		} else if lk, ok := schema.lookups[nav]; ok {
			item.target, item.lookupCol = schemas[lk.target], lk.column
		} else {
			return nil, unknownProperty(nav, schema)
		}
		opts := map[string]string{}
		if hasOpts && strings.TrimSpace(inner) != "" {
			for _, o := range splitTopLevel(inner, ';') {
				k, val, ok := strings.Cut(o, "=")
				k = strings.TrimSpace(k)
				if !ok || !map[string]bool{"$select": true, "$filter": true, "$orderby": true, "$top": true}[k] {
					return nil, &queryError{fmt.Sprintf("The query option '%s' is not supported inside $expand by the emulator.", k)}
				}
				if !item.collection && k != "$select" {
					return nil, &queryError{fmt.Sprintf("Only $select is allowed when expanding the single-valued navigation property '%s'.", nav)}
				}
				opts[k] = val
			}
		}
		get := func(k string) (string, bool) { v, ok := opts[k]; return v, ok }
		o, err := parseOptionSet(get, item.target, st, false)
		if err != nil {
			return nil, err
		}
		item.opts = o
		items = append(items, item)
	}
	return items, nil
}

// apply filters and orders rows (primary key as the last sort key, so pages are stable).
func (q *queryOptions) apply(rows []row, schema *entitySchema) []row {
	out := rows
	if q.filter != nil {
		out = make([]row, 0, len(rows))
		for _, r := range rows {
			if q.filter.eval(r) {
				out = append(out, r)
			}
		}
	} else {
		out = append([]row(nil), rows...)
	}
	sort.SliceStable(out, func(i, j int) bool { return q.compareRows(out[i], out[j], schema) < 0 })
	return out
}

// compareRows orders two rows by $orderby (nulls first, as SQL Server sorts them), then primary key.
func (q *queryOptions) compareRows(a, b row, schema *entitySchema) int {
	for _, o := range q.orderby {
		c := compareNullable(a[o.col], b[o.col], o.typ)
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	ka, _ := a[schema.key].(string)
	kb, _ := b[schema.key].(string)
	return strings.Compare(ka, kb)
}

func compareNullable(a, b any, t colType) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return compareValues(a, b, t)
}

// project renders a row with the selected columns (all without $select), the key and the etag.
func project(r row, schema *entitySchema, sel []string) map[string]any {
	if sel == nil {
		return withETag(r)
	}
	out := map[string]any{"@odata.etag": etag(r), schema.key: r[schema.key]}
	for _, c := range sel {
		out[c] = r[c]
	}
	// The real service adds ownerid to every systemuser row, selected or not (payloads/systemusers_list_expand.json).
	if schema.set == setUsers {
		out["ownerid"] = r["ownerid"]
	}
	return out
}

// contextSelect renders the "(col,nav(col))" part of @odata.context.
func (q *queryOptions) contextSelect() string {
	var parts []string
	parts = append(parts, q.sel...)
	if len(q.expands) > 0 && q.sel == nil {
		parts = append(parts, "*")
	}
	for _, e := range q.expands {
		parts = append(parts, e.nav+"("+strings.Join(e.opts.sel, ",")+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// pageCookie is the position after the last row of a page: its $orderby values and primary key.
type pageCookie struct {
	page     int
	returned int
	values   []any
	key      string
}

type outerCookie struct {
	XMLName      xml.Name `xml:"cookie"`
	PageNumber   int      `xml:"pagenumber,attr"`
	PagingCookie string   `xml:"pagingcookie,attr"`
	IsTracking   string   `xml:"istracking,attr"`
}

type innerCookie struct {
	XMLName  xml.Name      `xml:"cookie"`
	Page     int           `xml:"page,attr"`
	Returned int           `xml:"countOfRecords,attr"`
	Columns  []cookieValue `xml:",any"`
}

type cookieValue struct {
	XMLName xml.Name
	Last    string `xml:"last,attr"`
	First   string `xml:"first,attr"`
}

// skipToken renders a cookie in the shape of the real service's $skiptoken (payloads/nextlink_page1_contacts.json):
// an XML cookie whose pagingcookie attribute is itself a percent-encoded XML cookie.
func skipToken(q *queryOptions, schema *entitySchema, first, last row, page, returned int) string {
	var inner strings.Builder
	fmt.Fprintf(&inner, `<cookie page="%d" countOfRecords="%d">`, page, returned)
	for _, o := range q.orderby {
		l, _ := json.Marshal(last[o.col])
		f, _ := json.Marshal(first[o.col])
		fmt.Fprintf(&inner, `<%s last="%s" first="%s" />`, o.col, xmlAttr(string(l)), xmlAttr(string(f)))
	}
	fmt.Fprintf(&inner, `<%s last="{%s}" first="{%s}" />`, schema.key, strings.ToUpper(fmt.Sprint(last[schema.key])), strings.ToUpper(fmt.Sprint(first[schema.key])))
	inner.WriteString(`</cookie>`)
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page+1, percentEncode(inner.String(), true))
}

func xmlAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

func parseSkipToken(s string) (*pageCookie, error) {
	var outer outerCookie
	if err := xml.Unmarshal([]byte(s), &outer); err != nil {
		return nil, fmt.Errorf("outer cookie: %w", err)
	}
	innerText, err := url.PathUnescape(outer.PagingCookie)
	if err != nil {
		return nil, fmt.Errorf("paging cookie: %w", err)
	}
	var inner innerCookie
	if err := xml.Unmarshal([]byte(innerText), &inner); err != nil {
		return nil, fmt.Errorf("paging cookie: %w", err)
	}
	if len(inner.Columns) == 0 {
		return nil, fmt.Errorf("paging cookie has no position")
	}
	c := &pageCookie{page: inner.Page, returned: inner.Returned}
	for _, col := range inner.Columns[:len(inner.Columns)-1] {
		var v any
		if err := json.Unmarshal([]byte(col.Last), &v); err != nil {
			return nil, fmt.Errorf("paging cookie value: %w", err)
		}
		c.values = append(c.values, v)
	}
	c.key = strings.ToLower(strings.Trim(inner.Columns[len(inner.Columns)-1].Last, "{}"))
	return c, nil
}

// after reports whether a row sorts after the cookie's position.
func (c *pageCookie) after(r row, q *queryOptions, schema *entitySchema) bool {
	if len(c.values) != len(q.orderby) {
		return false
	}
	pos := row{schema.key: c.key}
	for i, o := range q.orderby {
		v := c.values[i]
		if o.typ == tInt && v != nil {
			v = toFloat(v)
		}
		pos[o.col] = v
	}
	return q.compareRows(r, pos, schema) > 0
}

// percentEncode escapes everything but unreserved characters; lower-case hex for the inner cookie, upper-case
// (keeping = and /) for query values, which is how the real links look.
func percentEncode(s string, inner bool) string {
	const hexLower, hexUpper = "0123456789abcdef", "0123456789ABCDEF"
	hex := hexUpper
	if inner {
		hex = hexLower
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~'
		if unreserved || (!inner && (c == '=' || c == '/')) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// withoutSkipToken drops $skiptoken from a raw query, keeping the other options exactly as the client sent them.
func withoutSkipToken(rawQuery string) string {
	var keep []string
	for _, p := range strings.Split(rawQuery, "&") {
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == "$skiptoken" {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, "&")
}
