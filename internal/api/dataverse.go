package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultPageSize is the page size asked of Dataverse with Prefer: odata.maxpagesize (its own maximum).
const DefaultPageSize = 5000

// maxPages bounds a single listing so that a service answering with endless nextLinks cannot keep a scan busy forever.
const maxPages = 10000

// Dataverse is the Web API of one Dataverse organization.
type Dataverse struct {
	client    *Client
	base      string // {instanceUrl}/api/data/v9.2/
	origin    *url.URL
	scope     string
	pageSize  int
	formatted bool // ask for the formatted values of lookups (their referenced row's name)
}

// NewDataverse returns the Web API client of the organization at instanceURL (as BAP lists it).
// The token scope is the scheme and host of the instance URL followed by /.default.
func NewDataverse(c *Client, instanceURL string, pageSize int) (*Dataverse, error) {
	u, err := url.Parse(instanceURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("instance URL %q is not an https URL", instanceURL)
	}
	if pageSize <= 0 || pageSize > DefaultPageSize {
		pageSize = DefaultPageSize
	}
	path := strings.TrimSuffix(u.Path, "/") + "/api/data/v9.2/"
	base := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}
	return &Dataverse{
		client:   c,
		base:     base.String(),
		origin:   base,
		scope:    u.Scheme + "://" + u.Host + "/.default",
		pageSize: pageSize,
	}, nil
}

// Base returns the Web API base URL, ending in a slash.
func (d *Dataverse) Base() string { return d.base }

// Scope returns the token scope of the organization.
func (d *Dataverse) Scope() string { return d.scope }

// RetryWait is the client's RetryWait: how long to wait before sending again a request that failed with err.
func (d *Dataverse) RetryWait(ctx context.Context, err error, attempt int, waited time.Duration) (time.Duration, error) {
	return d.client.RetryWait(ctx, err, attempt, waited)
}

// PageSize is the page size asked with Prefer: odata.maxpagesize.
func (d *Dataverse) PageSize() int { return d.pageSize }

// FormattedValueSuffix ends the annotation that carries a value's formatted form, e.g. the name of the row a
// lookup points to: "_businessunitid_value@OData.Community.Display.V1.FormattedValue".
const FormattedValueSuffix = "@OData.Community.Display.V1.FormattedValue"

// WithFormattedValues returns a client of the same organization whose reads ask for formatted values
// (Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"), so that a lookup's display
// name comes with its value instead of through a second navigation in $expand.
func (d *Dataverse) WithFormattedValues() *Dataverse {
	c := *d
	c.formatted = true
	return &c
}

// prefer is the Prefer header of a listing.
func (d *Dataverse) prefer() string {
	p := "odata.maxpagesize=" + strconv.Itoa(d.pageSize)
	if d.formatted {
		p += `,odata.include-annotations="OData.Community.Display.V1.FormattedValue"`
	}
	return p
}

func (d *Dataverse) header() http.Header {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	// Stops cached results for expanded collections (the Web API's own advice).
	h.Set("If-None-Match", "null")
	return h
}

// Get reads a single JSON object (a row, or a function's answer such as WhoAmI) into v.
func (d *Dataverse) Get(ctx context.Context, path string, v any) error {
	h := d.header()
	if d.formatted {
		h.Set("Prefer", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`)
	}
	_, err := d.client.GetJSON(ctx, d.base+path, d.scope, h, v)
	return err
}

// Each lists a collection (path relative to the Web API base, query included) and calls fn for each row,
// following @odata.nextLink unchanged with the same Prefer header until the last page.
// Rows are decoded into T as the page arrives, without holding the page's text: only the fields of T are kept,
// and unknown keys (annotations, @odata.etag, <nav>@odata.nextLink) are skipped. fn sees a page's rows once the
// page has arrived completely, so a page read again after a failure never delivers a row twice.
func Each[T any](ctx context.Context, d *Dataverse, path string, fn func(T) error) error {
	return each(ctx, d, d.base+path, trimQuery(path), fn)
}

// EachLink lists the collection an absolute link of the organization names (such as the @odata.nextLink of an
// expanded collection) as Each does. A link outside the organization is refused: it would receive the token.
func EachLink[T any](ctx context.Context, d *Dataverse, link string, fn func(T) error) error {
	if err := d.checkLink(link); err != nil {
		return err
	}
	return each(ctx, d, link, trimQuery(strings.TrimPrefix(link, d.base)), fn)
}

func each[T any](ctx context.Context, d *Dataverse, next, label string, fn func(T) error) error {
	h := d.header()
	h.Set("Prefer", d.prefer())
	seen := map[string]bool{}
	var rows []T
	for pages := 0; next != ""; pages++ {
		if pages >= maxPages {
			return fmt.Errorf("list %s: more than %d pages; stopping", label, maxPages)
		}
		if seen[next] {
			return &Error{Method: http.MethodGet, URL: redactURL(next),
				Message: "the service sent a @odata.nextLink that repeats an earlier page: stopping to avoid an endless loop"}
		}
		seen[next] = true
		var p pageInfo
		resp, err := d.client.Stream(ctx, next, d.scope, h, func(r io.Reader) error {
			rows = rows[:0]
			var err error
			p, err = decodePage(r, &rows)
			return err
		})
		if err != nil {
			return err
		}
		if !p.hasValue {
			return &Error{Method: http.MethodGet, URL: redactURL(next), Status: resp.Status,
				Message: "the answer is not an OData collection (no \"value\" array)"}
		}
		for _, row := range rows {
			if err := fn(row); err != nil {
				return err
			}
		}
		if p.nextLink != "" {
			if err := d.checkLink(p.nextLink); err != nil {
				return err
			}
		}
		next = p.nextLink
	}
	return nil
}

// pageInfo is what a page says besides its rows.
type pageInfo struct {
	hasValue bool
	nextLink string
}

// decodePage reads one page of an OData collection, {"value": [rows…], "@odata.nextLink": "…", …}, appending
// its rows to rows. Other keys are skipped; "value": null counts as an empty collection.
func decodePage[T any](r io.Reader, rows *[]T) (pageInfo, error) {
	p, err := decodePageBody(r, rows)
	if err == io.EOF {
		// The document ended early (or never began): say so, as json.Unmarshal would.
		err = io.ErrUnexpectedEOF
	}
	return p, err
}

func decodePageBody[T any](r io.Reader, rows *[]T) (pageInfo, error) {
	var p pageInfo
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{', "an OData page"); err != nil {
		return p, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return p, err
		}
		switch key, _ := tok.(string); key {
		case "value":
			p.hasValue = true
			if tok, err = dec.Token(); err != nil {
				return p, err
			}
			if tok == nil {
				continue
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return p, fmt.Errorf("json: cannot unmarshal %v into the value array of an OData page", tokenKind(tok))
			}
			for dec.More() {
				var row T
				if err := dec.Decode(&row); err != nil {
					return p, err
				}
				*rows = append(*rows, row)
			}
			if _, err := dec.Token(); err != nil {
				return p, err
			}
		case "@odata.nextLink":
			var link *string
			if err := dec.Decode(&link); err != nil {
				return p, err
			}
			if link != nil {
				p.nextLink = *link
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return p, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return p, err
	}
	// As json.Unmarshal does, refuse anything but space after the document.
	switch tok, err := dec.Token(); {
	case err == io.EOF:
		return p, nil
	case err != nil:
		return p, err
	default:
		return p, fmt.Errorf("json: unexpected %s after the OData page", tokenKind(tok))
	}
}

func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("json: cannot unmarshal %v into %s", tokenKind(tok), what)
	}
	return nil
}

// tokenKind names a JSON token as encoding/json's errors do.
func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// checkLink refuses a link that leaves the organization: following it would send the bearer token elsewhere.
// A link of the organization starts with the Web API base the client was made for: same scheme, host and port,
// and a path under the base's (another organization behind the same host has another path, as has another
// version of the Web API). Dot segments are refused outright, since a server or proxy that resolves them would
// leave the path the prefix vouches for; so is user information before the host.
func (d *Dataverse) checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != d.origin.Scheme || !strings.EqualFold(u.Host, d.origin.Host) || u.User != nil ||
		!strings.HasPrefix(u.EscapedPath(), d.origin.EscapedPath()) || hasDotSegment(u.Path) {
		return &Error{Method: http.MethodGet, URL: redactURL(link),
			Message: fmt.Sprintf("the service sent a @odata.nextLink outside %s: refusing to follow it (it would receive the token)", d.base)}
	}
	return nil
}

// hasDotSegment reports whether a (decoded) path has a "." or ".." segment.
func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func trimQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// Write sends a write (POST, PATCH, DELETE) to a path relative to the Web API base. Writes are never retried
// here: a caller that sees a 429 waits Retry-After and re-reads state before deciding to send it again.
//
// A PATCH carries If-Match: * unless extra sets If-Match: PATCH is an upsert, and without it a PATCH to a row
// deleted in the meantime would create a new row instead of answering 404.
func (d *Dataverse) Write(ctx context.Context, method, path string, body any, extra http.Header) (*Response, error) {
	h := d.header()
	if method == http.MethodPatch {
		h.Set("If-Match", "*")
	}
	for k, vs := range extra {
		h[k] = vs
	}
	return d.client.Do(ctx, Request{Method: method, URL: d.base + path, Scope: d.scope, Header: h, Body: body})
}

// EntityIDFromHeader extracts the GUID from an OData-EntityId header such as ".../systemusers(<guid>)".
func EntityIDFromHeader(h http.Header) string {
	v := h.Get("OData-EntityId")
	i := strings.LastIndexByte(v, '(')
	j := strings.LastIndexByte(v, ')')
	if i < 0 || j < i {
		return ""
	}
	return v[i+1 : j]
}

// Quote returns s as an OData string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Query builds a path with query options, escaping each value for a URL but leaving OData syntax readable.
func Query(path string, opts ...[2]string) string {
	var b strings.Builder
	b.WriteString(path)
	for i, o := range opts {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(o[0])
		b.WriteByte('=')
		b.WriteString(escapeQueryValue(o[1]))
	}
	return b.String()
}

// escapeQueryValue percent-encodes what would break the query string (&, #, +, %, spaces, quotes stay literal
// where OData expects them) so that names like "R&D" survive.
func escapeQueryValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ' ':
			b.WriteString("%20")
		case c == '&' || c == '#' || c == '+' || c == '%' || c == '"' || c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
