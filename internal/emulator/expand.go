package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// query parses the query options of a read and applies the $expand rules; callers hold the store's read lock.
func (s *Server) query(req *dvRequest, schema *entitySchema) (*queryOptions, *response) {
	q, qerr := parseQueryOptions(req.r.URL.RawQuery, schema, req.st)
	if qerr != nil {
		return nil, dvError(http.StatusBadRequest, codeNotFound, qerr.message)
	}
	if s.opts.AllowCombinedExpand || len(q.expands) < 2 {
		return q, nil
	}
	// Two revisions of "Join tables using OData" (learn.microsoft.com/power-apps/developer/data-platform/webapi/
	// query/join-tables) disagree; the stricter one lists a collection-valued expand combined with other
	// expands as unsupported, so a client must not depend on it.
	for _, e := range q.expands {
		if e.collection {
			return nil, dvError(http.StatusBadRequest, codeNotFound, fmt.Sprintf(
				"The emulator does not expand the collection-valued navigation property '%s' together with other navigation properties in one query: Microsoft documents this combination as unsupported. Expand one collection-valued navigation property per query (Options.AllowCombinedExpand relaxes this).", e.nav))
		}
	}
	return q, nil
}

// preferredPageSize is the request's Prefer odata.maxpagesize (at most 5000) without Options.MaxPageSize, which
// applies to top-level pages only.
func preferredPageSize(req *dvRequest) int {
	if n, err := strconv.Atoi(req.prefer["odata.maxpagesize"]); err == nil && n > 0 {
		return min(n, defaultPageSize)
	}
	return defaultPageSize
}

// expand adds one $expand item to an output row; callers hold the store's read lock. In an entity-set query
// (navLink) an expanded collection carries <nav>@odata.nextLink: the plain related-collection URL when the inline
// array is complete (following it returns every row again), or a link with a $skiptoken after the inline rows
// when they were capped. Single-record reads give the rows inline, without a link.
func (s *Server) expand(req *dvRequest, out map[string]any, r row, schema *entitySchema, e *expandItem, navLink bool) {
	st := req.st
	if !e.collection {
		id, _ := r[e.lookupCol].(string)
		if target := st.tables[e.target.set][id]; target != nil {
			out[e.nav] = s.render(req, target, e.target, e.opts.sel)
		} else {
			out[e.nav] = nil
		}
		return
	}
	id := r[schema.key].(string)
	matched := e.opts.apply(st.related(schema, e.nav, id), e.target)
	if e.opts.top >= 0 {
		matched = matched[:min(e.opts.top, len(matched))]
	}
	limit := s.opts.MaxExpandedItems
	if navLink {
		limit = min(limit, preferredPageSize(req))
	}
	if navLink && s.opts.DeferExpandedCollections {
		limit = 0
	}
	inline := matched[:min(limit, len(matched))]
	items := make([]any, 0, len(inline))
	for _, rel := range inline {
		items = append(items, s.render(req, rel, e.target, e.opts.sel))
	}
	out[e.nav] = items
	if !navLink {
		return
	}
	var params []string
	if e.opts.sel != nil {
		params = append(params, "$select="+strings.Join(e.opts.sel, ","))
	}
	if e.opts.filterRaw != "" {
		params = append(params, "$filter="+percentEncode(e.opts.filterRaw, false))
	}
	if e.opts.orderRaw != "" {
		params = append(params, "$orderby="+percentEncode(e.opts.orderRaw, false))
	}
	if e.opts.top >= 0 {
		params = append(params, "$top="+strconv.Itoa(e.opts.top))
	}
	if len(inline) > 0 && len(inline) < len(matched) {
		params = append(params, "$skiptoken="+percentEncode(skipToken(e.opts, e.target, inline[0], inline[len(inline)-1], 1, len(inline)), false))
	}
	link := req.base + schema.set + "(" + id + ")/" + e.nav
	if len(params) > 0 {
		link += "?" + strings.Join(params, "&")
	}
	out[e.nav+"@odata.nextLink"] = link
}
