package emulator

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Dataverse error codes with a known real meaning.
const (
	codeNotFound       = "0x80060888" // OData: unknown segment, property or malformed query
	codeRecordNotFound = "0x80040217"
	codeDuplicate      = "0x80040237"
	codePrivilege      = "0x80040220"
	codeNotMember      = "0x80072560"
	codeConcurrency    = "0x80072326"
	codeRequestLimit   = "0x80072322"
	codePayload        = "0x80048d19"
	codeUndeclared     = "0x0" // OData's own validation errors carry no Dataverse code
)

// Dataverse error codes the emulator chose because the real ones are not public; docs/emulator.md lists them.
const (
	// ErrCodeAppNotInTenant answers creating an application user for an app without a service principal in the tenant.
	ErrCodeAppNotInTenant = "0x8004f0a1"
	// ErrCodeDeletedUserExists answers creating an application user while a soft-deleted one with the same app ID exists.
	ErrCodeDeletedUserExists = "0x8004f0a2"
	// ErrCodeRoleNotInBusinessUnit answers assigning a role copy from another business unit than the user's.
	ErrCodeRoleNotInBusinessUnit = "0x8004f0a3"
	// ErrCodeUserNotDisabled answers deleting a user that is still enabled.
	ErrCodeUserNotDisabled = "0x8004f0a4"
	// ErrCodeCallerDisabled answers any request whose caller's own application user is disabled.
	ErrCodeCallerDisabled = "0x8004f0a5"
	// ErrCodeOrganizationNotFound answers requests to an unknown or removed Dataverse organization.
	ErrCodeOrganizationNotFound = "0x8004f0a6"
	// ErrCodeRoleToDisabledUser answers assigning a security role to a disabled user while the organization
	// setting allowRoleAssignmentOnDisabledUsers is off.
	ErrCodeRoleToDisabledUser = "0x8004f0a7"
	// ErrCodeOrganizationDisabled answers every request to an organization whose environment is disabled.
	ErrCodeOrganizationDisabled = "0x8004f0a8"
	// ErrCodeAdminMode answers a caller without System Administrator or System Customizer in an organization in
	// administration mode.
	ErrCodeAdminMode = "0x8004f0a9"
)

const maxWriteBodySize = 4 << 20

func dvHeaders() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set("OData-Version", "4.0")
	return h
}

func dvError(status int, code, message string) *response {
	body, _ := marshalJSON(map[string]any{"error": map[string]any{"code": code, "message": message}})
	return &response{status: status, header: dvHeaders(), body: body}
}

func dvJSON(status int, v any) *response {
	body, err := marshalJSON(v)
	if err != nil {
		return dvError(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred.")
	}
	return &response{status: status, header: dvHeaders(), body: body}
}

func dvNoContent() *response {
	h := http.Header{}
	h.Set("OData-Version", "4.0")
	return &response{status: http.StatusNoContent, header: h}
}

func notFoundSegment(name string) *response {
	return dvError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", name))
}

func recordNotFound(logical, id string) *response {
	return dvError(http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", logical, id))
}

// dataverseUnauthorized names the authority and the organization's own origin as the resource to ask for.
func dataverseUnauthorized(authority, tenantID, resource string) *response {
	h := http.Header{}
	h.Set("WWW-Authenticate", fmt.Sprintf("Bearer authorization_uri=%s/%s/oauth2/authorize, resource_id=%s", authority, tenantID, resource))
	return &response{status: http.StatusUnauthorized, header: h, body: []byte{}}
}

// segment is one path segment of a Web API URL, such as systemusers(<guid>).
type segment struct {
	name   string
	key    string
	hasKey bool
	altKey string // EntityDefinitions(LogicalName='x'): x
}

func parseSegments(p string) ([]segment, *response) {
	var out []segment
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		name, rest, hasKey := strings.Cut(part, "(")
		seg := segment{name: name, hasKey: hasKey}
		if hasKey {
			if !strings.HasSuffix(rest, ")") {
				return nil, notFoundSegment(part)
			}
			key := strings.Trim(strings.TrimSuffix(rest, ")"), "{}")
			if m := logicalNameKey.FindStringSubmatch(key); m != nil && name == setEntityDefinitions {
				seg.altKey = m[1]
				out = append(out, seg)
				continue
			}
			if key != "" && !isGUID(key) {
				return nil, dvError(http.StatusBadRequest, codeNotFound, fmt.Sprintf("The key '%s' is not a GUID; the emulator does not support alternate keys.", key))
			}
			seg.key = strings.ToLower(key)
		}
		out = append(out, seg)
	}
	return out, nil
}

// dvRequest is a Dataverse request after routing and authentication.
type dvRequest struct {
	r      *http.Request
	env    *environment
	st     *store
	segs   []segment
	body   []byte
	caller row
	base   string
	prefer map[string]string
	// annotations is the odata.include-annotations preference.
	annotations annotationFilter
}

// serveDataverse answers a request to an organization's own port.
func (s *Server) serveDataverse(w *statusRecorder, r *http.Request, env *environment) {
	domain, apiPath := env.domain, strings.TrimPrefix(r.URL.Path, "/")
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	var body []byte
	if write {
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxWriteBodySize))
		defer func() { s.recordWrite(env, r, body, w.status) }()
	}
	inFlight, end := s.begin(env, write)
	defer end()

	s.mu.Lock()
	removed, access, faults := env.removed, env.access, env.faults
	s.mu.Unlock()
	if removed {
		dvError(http.StatusNotFound, ErrCodeOrganizationNotFound, fmt.Sprintf("The organization '%s' does not exist or has been deleted.", domain)).write(w)
		return
	}
	claims, failure := s.checkBearer(r, env.origin)
	if failure != tokenOK {
		dataverseUnauthorized(s.origin, s.tenant.ID, env.origin).write(w)
		return
	}
	st := env.store
	caller := s.callerUser(st, claims.AppID)
	switch {
	case access == "none" || caller == nil:
		dvError(http.StatusForbidden, codeNotMember, "The user is not a member of the organization.").write(w)
		return
	case caller["isdisabled"] == true:
		dvError(http.StatusForbidden, ErrCodeCallerDisabled, fmt.Sprintf("The user with SystemUserId=%s is disabled. Disabled users cannot access the system.", caller["systemuserid"])).write(w)
		return
	}
	if refusal := s.stateRefusal(env, caller); refusal != nil {
		refusal.write(w)
		return
	}
	if limit := s.opts.ConcurrencyLimit; limit > 0 && inFlight > limit {
		s.countThrottled(env)
		resp := dvError(http.StatusTooManyRequests, codeConcurrency, fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", limit))
		resp.header.Set("Retry-After", "1")
		resp.write(w)
		return
	}
	if !sleep(r.Context(), s.opts.Latency+faults.latency) {
		return
	}
	if accept := r.Header.Get("Accept"); accept != "" && !strings.Contains(accept, "application/json") && !strings.Contains(accept, "*/*") {
		dvError(http.StatusNotAcceptable, codeNotFound, fmt.Sprintf("The Web API answers JSON only; Accept '%s' does not allow application/json.", accept)).write(w)
		return
	}
	apiRest, ok := strings.CutPrefix(apiPath, apiPrefix)
	if !ok || apiRest == "" {
		notFoundSegment(apiPath).write(w)
		return
	}
	segs, errResp := parseSegments(apiRest)
	if errResp != nil {
		errResp.write(w)
		return
	}
	req := &dvRequest{r: r, env: env, st: st, segs: segs, body: body, caller: caller, base: s.instanceURL(env) + apiPrefix, prefer: parsePrefer(r.Header.Values("Prefer"))}
	req.annotations = parseAnnotationFilter(req.prefer["odata.include-annotations"])
	rule := faults.pick(r.Method, segs[0].name)
	s.deliver(w, r, apiDataverse, env.origin, rule, func() *response {
		switch r.Method {
		case http.MethodGet:
			if len(segs) == 2 && segs[0].name == setUsers && segs[0].hasKey && strings.HasSuffix(segs[1].name, "RetrieveUserPrivileges") {
				return s.retrieveUserPrivileges(req, access)
			}
			return s.handleGet(req)
		case http.MethodPost, http.MethodPatch, http.MethodDelete:
			if access == "read" {
				return s.privilegeDenied(req)
			}
			return s.handleWrite(req)
		}
		return dvError(http.StatusMethodNotAllowed, codeNotFound, fmt.Sprintf("The HTTP method '%s' is not supported by the emulator.", r.Method))
	})
}

// callerUser is the caller's own application user in an environment, or nil.
func (s *Server) callerUser(st *store, appID string) row {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if id := st.userByApp(strings.ToLower(appID)); id != "" {
		return withETag(st.tables[setUsers][id])
	}
	return nil
}

func (s *Server) privilegeDenied(req *dvRequest) *response {
	entity, priv := "systemuser", "prvWriteUser"
	switch {
	case req.r.Method == http.MethodPost && len(req.segs) == 1 && req.segs[0].name == setUsers:
		priv = "prvCreateUser"
	case req.r.Method == http.MethodDelete && len(req.segs) == 1:
		priv = "prvDeleteUser"
	case req.st.schemas[req.segs[0].name] != nil && req.segs[0].name != setUsers:
		entity = req.st.schemas[req.segs[0].name].logical
		priv = "prvWrite" + entity
	}
	return dvError(http.StatusForbidden, codePrivilege, fmt.Sprintf(
		"Principal user (Id=%s, type=8, roleCount=1, privilegeCount=412, accessMode=4), is missing %s privilege (Id=%s) on OTC=8 for entity '%s'. context.Caller=%s",
		req.caller["systemuserid"], priv, deterministicID("privilege", priv), entity, req.caller["systemuserid"]))
}

// parsePrefer reads Prefer headers, which may hold several comma-separated preferences; a quoted value may
// hold commas itself (odata.include-annotations="A,B").
func parsePrefer(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for _, p := range splitOutsideQuotes(v) {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return out
}

func splitOutsideQuotes(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (s *Server) handleGet(req *dvRequest) *response {
	segs := req.segs
	if segs[0].name == "WhoAmI" && len(segs) == 1 && segs[0].key == "" {
		return dvJSON(http.StatusOK, map[string]any{
			"@odata.context": req.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
			"BusinessUnitId": req.caller["_businessunitid_value"],
			"UserId":         req.caller["systemuserid"],
			"OrganizationId": req.st.orgID,
		})
	}
	if segs[0].name == setEntityDefinitions {
		return s.handleMetadata(req)
	}
	st := req.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	schema := st.schemas[segs[0].name]
	if schema == nil {
		return notFoundSegment(segs[0].name)
	}
	switch {
	case len(segs) == 1 && !segs[0].hasKey:
		q, errResp := s.query(req, schema)
		if errResp != nil {
			return errResp
		}
		return s.collection(req, schema, st.sortedRows(schema.set), q, schema.set, true)
	case len(segs) == 1:
		r := st.tables[schema.set][segs[0].key]
		if r == nil {
			return recordNotFound(schema.logical, segs[0].key)
		}
		q, errResp := s.query(req, schema)
		if errResp != nil {
			return errResp
		}
		out := s.render(req, r, schema, q.sel)
		for _, e := range q.expands {
			s.expand(req, out, r, schema, e, false)
		}
		out["@odata.context"] = req.base + "$metadata#" + schema.set + q.contextSelect() + "/$entity"
		return dvJSON(http.StatusOK, out)
	case len(segs) == 2 && segs[0].hasKey && !segs[1].hasKey:
		r := st.tables[schema.set][segs[0].key]
		if r == nil {
			return recordNotFound(schema.logical, segs[0].key)
		}
		if target, ok := schema.collections[segs[1].name]; ok {
			ts := st.schemas[target]
			q, errResp := s.query(req, ts)
			if errResp != nil {
				return errResp
			}
			return s.collection(req, ts, st.related(schema, segs[1].name, segs[0].key), q, ts.set, false)
		}
		if lk, ok := schema.lookups[segs[1].name]; ok {
			ts := st.schemas[lk.target]
			q, errResp := s.query(req, ts)
			if errResp != nil {
				return errResp
			}
			id, _ := r[lk.column].(string)
			target := st.tables[ts.set][id]
			if target == nil {
				return dvNoContent()
			}
			out := s.render(req, target, ts, q.sel)
			out["@odata.context"] = req.base + "$metadata#" + ts.set + q.contextSelect() + "/$entity"
			return dvJSON(http.StatusOK, out)
		}
		return notFoundSegment(segs[1].name)
	}
	return notFoundSegment(segs[len(segs)-1].name)
}

// pageSize is the Prefer odata.maxpagesize (at most 5000), capped by Options.MaxPageSize.
func (s *Server) pageSize(req *dvRequest) (size int, preferred bool) {
	size = defaultPageSize
	if v, ok := req.prefer["odata.maxpagesize"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size, preferred = min(n, defaultPageSize), true
		}
	}
	if s.opts.MaxPageSize > 0 {
		size = min(size, s.opts.MaxPageSize)
	}
	return size, preferred
}

// collection answers a collection query, one page at a time; callers hold the store's read lock.
func (s *Server) collection(req *dvRequest, schema *entitySchema, source []row, q *queryOptions, contextSet string, navLinks bool) *response {
	matched := q.apply(source, schema)
	start, returned := 0, 0
	if q.cookie != nil {
		returned = q.cookie.returned
		start = len(matched)
		for i, r := range matched {
			if q.cookie.after(r, q, schema) {
				start = i
				break
			}
		}
	}
	size, preferred := s.pageSize(req)
	n := min(size, len(matched)-start)
	if q.top >= 0 {
		n = max(0, min(n, q.top-returned))
	}
	page := matched[start : start+n]
	more := start+n < len(matched) && (q.top < 0 || returned+n < q.top)

	values := make([]any, 0, len(page))
	for _, r := range page {
		out := s.render(req, r, schema, q.sel)
		for _, e := range q.expands {
			s.expand(req, out, r, schema, e, navLinks)
		}
		values = append(values, out)
	}
	doc := map[string]any{
		"@odata.context": req.base + "$metadata#" + contextSet + q.contextSelect(),
		"value":          values,
	}
	if q.count {
		doc["@odata.count"] = min(len(matched), defaultPageSize)
	}
	if more {
		token := skipToken(q, schema, page[0], page[len(page)-1], max(q.cookiePage(), 1), returned+n)
		query := withoutSkipToken(req.r.URL.RawQuery)
		if query != "" {
			query += "&"
		}
		doc["@odata.nextLink"] = req.env.origin + req.r.URL.Path + "?" + query + "$skiptoken=" + percentEncode(token, false)
	}
	resp := dvJSON(http.StatusOK, doc)
	if preferred {
		resp.header.Set("Preference-Applied", "odata.maxpagesize="+req.prefer["odata.maxpagesize"])
	}
	return resp
}

func (q *queryOptions) cookiePage() int {
	if q.cookie == nil {
		return 1
	}
	return q.cookie.page + 1
}
