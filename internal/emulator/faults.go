package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults are injected failures for one environment's Dataverse, or for the tenant's BAP environment list.
type Faults struct {
	// Latency is added to every request of the environment (or of the BAP list).
	Latency time.Duration `yaml:"latency"`
	Rules   []FaultRule   `yaml:"rules"`
}

// FaultRule alters the answer to matching requests; the first rule that applies to a request wins.
type FaultRule struct {
	// Match is "<METHOD> <segment>" (segment: the first path segment after api/data/v9.2/ without its key,
	// or "BAP" for the environment list), a method or a segment alone, or "" for any request.
	Match string `yaml:"match"`
	// Status replaces the answer with an error of that status (the handler does not run); 0 keeps the real one.
	Status int `yaml:"status"`
	// RetryAfter sets the Retry-After header in seconds; 0 sends none.
	RetryAfter int `yaml:"retry_after"`
	// Count applies the rule to the first Count matching requests only; 0 means every time.
	Count int `yaml:"count"`
	// Every applies the rule to every Nth matching request instead.
	Every int `yaml:"every"`
	// Body is json, html, truncated, not_json, wrong_type, oversize or empty.
	Body string `yaml:"body"`
	// Delay is waited before answering (the request's cancellation ends it).
	Delay time.Duration `yaml:"delay"`
	// Reset closes the connection without any response.
	Reset bool `yaml:"reset"`
	// NextLink is loop (a nextLink to the same page) or foreign (a nextLink to another host).
	NextLink string `yaml:"next_link"`
	// Applied runs the handler first, so a write takes effect, and then replaces its answer with Status or, with
	// Reset, closes the connection: the write was applied but its answer was lost.
	Applied bool `yaml:"applied"`
}

// faultSet is the live form of Faults, with the per-rule counters that keep faults deterministic.
type faultSet struct {
	latency time.Duration
	mu      sync.Mutex
	rules   []FaultRule
	seen    []int
}

func newFaultSet(f Faults) *faultSet {
	return &faultSet{latency: f.Latency, rules: append([]FaultRule(nil), f.Rules...), seen: make([]int, len(f.Rules))}
}

var httpMethods = map[string]bool{"GET": true, "POST": true, "PATCH": true, "PUT": true, "DELETE": true}

func ruleMatches(match, method, segment string) bool {
	fields := strings.Fields(match)
	eq := func(pattern, v string) bool { return pattern == "*" || strings.EqualFold(pattern, v) }
	switch len(fields) {
	case 0:
		return true
	case 1:
		if httpMethods[strings.ToUpper(fields[0])] {
			return eq(fields[0], method)
		}
		return eq(fields[0], segment)
	case 2:
		return eq(fields[0], method) && eq(fields[1], segment)
	}
	return false
}

// pick counts the request against every matching rule up to the first that applies, and returns that one.
func (fs *faultSet) pick(method, segment string) *FaultRule {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if !ruleMatches(r.Match, method, segment) {
			continue
		}
		fs.seen[i]++
		n := fs.seen[i]
		if (r.Count > 0 && n > r.Count) || (r.Every > 0 && n%r.Every != 0) {
			continue
		}
		return &r
	}
	return nil
}

// apiKind selects the error shapes of the API a response belongs to.
type apiKind int

const (
	apiDataverse apiKind = iota
	apiBAP
)

const oversizeBytes = 64 << 20

// deliver writes the answer to a request, altered by a fault rule if one applies. produce runs the real
// handler; it is not called when the rule replaces the answer, so a faulted write changes nothing, unless the
// rule is Applied: then the handler runs and only its answer is replaced (or lost). origin is the answering
// service's (the main listener's for BAP, the organization's for Dataverse).
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, api apiKind, origin string, rule *FaultRule, produce func() *response) {
	if rule == nil {
		produce().write(w)
		return
	}
	if !sleep(r.Context(), rule.Delay) {
		return
	}
	if rule.Applied {
		produce()
	}
	if rule.Reset {
		abortConnection(w)
		return
	}
	var resp *response
	if rule.Status != 0 {
		resp = s.faultError(api, origin, rule.Status, r)
	} else {
		resp = produce()
	}
	if rule.RetryAfter > 0 {
		resp.header.Set("Retry-After", fmt.Sprint(rule.RetryAfter))
	}
	if rule.NextLink != "" && rule.Status == 0 && r.Method == http.MethodGet {
		resp.body = replaceNextLink(resp.body, api, faultNextLink(rule.NextLink, origin, r))
	}
	switch rule.Body {
	case "html":
		resp.header.Set("Content-Type", "text/html; charset=utf-8")
		resp.body = []byte(proxyErrorPage(resp.status))
	case "truncated":
		resp.body = resp.body[:len(resp.body)/2]
	case "not_json":
		resp.body = []byte("The service is temporarily unavailable. Please retry the request later.\n")
	case "wrong_type":
		resp.header.Set("Content-Type", "text/plain; charset=utf-8")
	case "empty":
		resp.body = []byte{}
	case "oversize":
		streamOversize(w, resp)
		return
	}
	resp.write(w)
}

func faultNextLink(kind, origin string, r *http.Request) string {
	if kind == "foreign" {
		return "https://evil.example" + r.URL.RequestURI()
	}
	return origin + r.URL.RequestURI()
}

// replaceNextLink sets the next page link of a JSON collection body; other bodies pass unchanged.
func replaceNextLink(body []byte, api apiKind, link string) []byte {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return body
	}
	if _, ok := doc["value"]; !ok {
		return body
	}
	key := "@odata.nextLink"
	if api == apiBAP {
		key = "nextLink"
	}
	doc[key], _ = marshalJSON(link)
	out, err := marshalJSON(doc)
	if err != nil {
		return body
	}
	return out
}

// abortConnection drops the connection without a response, as a proxy reset would.
func abortConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
		return
	}
	// HTTP/2 connections cannot be hijacked; aborting the handler resets the stream instead.
	panic(http.ErrAbortHandler)
}

// faultError is the real error shape of an API for a status.
func (s *Server) faultError(api apiKind, origin string, status int, r *http.Request) *response {
	if api == apiBAP {
		codes := map[int]string{400: "BadRequest", 401: "AuthenticationFailed", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
			429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
		code, ok := codes[status]
		if !ok {
			code = strings.ReplaceAll(http.StatusText(status), " ", "")
		}
		msg := http.StatusText(status) + "."
		if status == http.StatusTooManyRequests {
			msg = "Rate limit is exceeded. Try again in 1 seconds."
		}
		return bapError(status, code, msg)
	}
	switch status {
	case http.StatusUnauthorized:
		return dataverseUnauthorized(s.origin, s.tenant.ID, origin)
	case http.StatusBadRequest:
		return dvError(status, "0x80040203", "Invalid argument.")
	case http.StatusForbidden:
		return dvError(status, codePrivilege, "Principal user is missing prvReadUser privilege.")
	case http.StatusNotFound:
		return dvError(status, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", firstSegment(r)))
	case http.StatusPreconditionFailed:
		return dvError(status, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
	case http.StatusTooManyRequests:
		return dvError(status, codeRequestLimit, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
	}
	return dvError(status, "0x80040216", "An unexpected error occurred.")
}

func firstSegment(r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.Path, "/")
	rest = strings.TrimPrefix(rest, apiPrefix)
	seg, _, _ := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(seg, "(")
	return name
}

func proxyErrorPage(status int) string {
	text := http.StatusText(status)
	return fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>The proxy server could not handle the request. Reference #%d.</p>\n<hr><address>edge proxy</address></body></html>\n", status, text, status, text, status*7919)
}

// streamOversize sends a well-formed JSON collection of about 64 MiB, in chunks, until done or the client leaves.
func streamOversize(w http.ResponseWriter, resp *response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.status)
	if _, err := w.Write([]byte(`{"@odata.context":"$metadata#systemusers(fullname)","value":[`)); err != nil {
		return
	}
	filler := strings.Repeat("x", 900)
	var chunk bytes.Buffer
	written := 0
	for i := 0; written < oversizeBytes; i++ {
		chunk.Reset()
		for j := 0; j < 64; j++ {
			if i > 0 || j > 0 {
				chunk.WriteByte(',')
			}
			fmt.Fprintf(&chunk, `{"@odata.etag":"W/\"%d\"","fullname":"%s","systemuserid":"%s"}`, i*64+j, filler, deterministicID("oversize", fmt.Sprint(i*64+j)))
		}
		n, err := w.Write(chunk.Bytes())
		if err != nil {
			return
		}
		written += n
	}
	w.Write([]byte("]}"))
}
