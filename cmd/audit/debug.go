package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// debugTransport logs each request's method, URL (query values that could carry secrets redacted), status and
// duration. Headers and bodies — where tokens, secrets and assertions travel — are never logged.
type debugTransport struct {
	next http.RoundTripper
	w    io.Writer
	mu   sync.Mutex
}

func transportOf(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

func (d *debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := d.next.RoundTrip(req)
	status := "error: " + errText(err)
	if err == nil {
		status = resp.Status
		if resp.Header.Get("Retry-After") != "" {
			status += " (Retry-After " + resp.Header.Get("Retry-After") + ")"
		}
	}
	d.mu.Lock()
	fmt.Fprintf(d.w, "debug: %s %s → %s in %s\n", req.Method, safeURL(req.URL), status, time.Since(start).Round(time.Millisecond))
	d.mu.Unlock()
	return resp, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sensitiveParams are query parameters that carry credentials in the OAuth and Azure protocols.
var sensitiveParams = []string{"client_secret", "client_assertion", "code", "access_token", "refresh_token", "sig", "password", "token"}

func safeURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	changed := false
	for k := range q {
		for _, s := range sensitiveParams {
			if strings.EqualFold(k, s) {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
	}
	if changed {
		c.RawQuery = q.Encode()
	}
	return c.String()
}
