// Package api is the HTTP boundary to Microsoft's APIs (BAP and the Dataverse Web API): bearer tokens,
// retries that honour Retry-After, size-limited bodies, OData paging and one typed error.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Error is a failed call to a Microsoft API: what was asked, what came back, and the service's own error code.
type Error struct {
	Method     string
	URL        string // without query string secrets; Dataverse URLs carry none
	Status     int
	Code       string // Dataverse "0x…" code or BAP/Entra code, when the body had one
	Message    string // the service's message, or a description of a malformed response
	Body       string // the start of the body, for diagnostics
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	// The query is left out: the stage names what was read, and OData queries make messages unreadable.
	u := e.URL
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	fmt.Fprintf(&b, "%s %s: ", e.Method, u)
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		if e.Status != 0 || e.Code != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// StatusOf returns the HTTP status of an API error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// CodeOf returns the service error code of an API error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is an API answer of 404.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

const bodySnippet = 512

// newError builds an Error from a response and its (possibly partial) body; now reads a Retry-After date.
func newError(req *http.Request, resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{Method: req.Method, URL: redactURL(req.URL.String()), Status: resp.StatusCode}
	e.RetryAfter = retryAfter(resp.Header, now)
	code, msg := parseErrorBody(body)
	e.Code, e.Message = code, msg
	if e.Message == "" {
		switch {
		case len(strings.TrimSpace(string(body))) == 0:
			e.Message = http.StatusText(resp.StatusCode)
		case !isJSON(resp.Header.Get("Content-Type")):
			e.Message = fmt.Sprintf("%s (the answer was %s, not JSON: a proxy or gateway may have answered)",
				http.StatusText(resp.StatusCode), mediaType(resp.Header.Get("Content-Type")))
		default:
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	e.Body = snippet(body)
	return e
}

// parseErrorBody understands the three error shapes these APIs use:
// Dataverse/BAP {"error":{"code","message"}} and Entra {"error":"…","error_description":"…"}.
func parseErrorBody(body []byte) (code, message string) {
	var odata struct {
		Error json.RawMessage `json:"error"`
		Desc  string          `json:"error_description"`
	}
	if json.Unmarshal(body, &odata) != nil || len(odata.Error) == 0 {
		return "", ""
	}
	var inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(odata.Error, &inner) == nil {
		return inner.Code, inner.Message
	}
	var s string
	if json.Unmarshal(odata.Error, &s) == nil {
		return s, firstLine(odata.Desc)
	}
	return "", ""
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body), "")
	if len(s) > bodySnippet {
		s = s[:bodySnippet] + "…"
	}
	return s
}

// secretParams are query parameters that can carry credentials: SAS signatures, OAuth codes, tokens and client
// credentials. Microsoft's read URLs carry none, but a nextLink from a misbehaving proxy could, and error
// messages end up in reports and logs.
var secretParams = map[string]bool{
	"sig": true, "signature": true, "code": true, "token": true, "access_token": true, "id_token": true,
	"refresh_token": true, "client_secret": true, "client_assertion": true, "assertion": true, "password": true,
	"key": true, "api-key": true, "apikey": true, "subscription-key": true, "secret": true,
}

// redactURL replaces the value of every secret-bearing query parameter (all of them, wherever they stand) with
// REDACTED, and any user information before the host.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.IndexByte(s[i+3:], '@'); at >= 0 {
			if slash := strings.IndexAny(s[i+3:], "/?#"); slash < 0 || at < slash {
				s = s[:i+3] + "REDACTED@" + s[i+3+at+1:]
			}
		}
	}
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	head, query, frag := s[:q+1], s[q+1:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name := k
		if u, err := url.QueryUnescape(k); err == nil {
			name = u
		}
		if hasValue && secretParams[strings.ToLower(name)] {
			parts[i] = k + "=REDACTED"
		}
	}
	return head + strings.Join(parts, "&") + frag
}

// RedactURL is redactURL for other packages that print URLs they did not build (webhook targets, debug logs).
func RedactURL(s string) string { return redactURL(s) }
