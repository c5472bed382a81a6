package main

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/work365/audit/internal/api"
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
	printf(d.w, "debug: %s %s → %s in %s\n", req.Method, safeURL(req.URL), status, time.Since(start).Round(time.Millisecond))
	d.mu.Unlock()
	return resp, err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	// *url.Error repeats the URL unredacted.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// safeURL is the URL with the values of secret-bearing query parameters and any user information redacted.
func safeURL(u *url.URL) string { return api.RedactURL(u.String()) }
