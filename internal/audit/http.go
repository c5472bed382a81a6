package audit

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/termtext"
)

// IdleConnTimeout closes a connection that has been idle that long. Every Dataverse organization has its own
// host, so a scan of a thousand environments opens a thousand connections; an organization's requests come in
// quick succession while it is read and stop when it is done, and keeping its connection for the usual 90
// seconds would hold the memory of every finished organization's connection until the end of the scan. A fleet
// scan finishes a few hundred organizations a second, so even 3 seconds holds hundreds of them.
const IdleConnTimeout = 1 * time.Second

// Client is the client of every API call, bounding each request by timeout: the injected one (which trusts
// its own CA but keeps connections as the product does), otherwise one that verifies TLS against the system
// roots (SSL_CERT_FILE and SSL_CERT_DIR add private CAs). With Debug, every request is logged; with an
// Observer, every request is observed.
func (d Deps) Client(timeout time.Duration) *http.Client {
	c := d.baseClient(timeout)
	if d.Debug {
		c.Transport = &debugTransport{next: TransportOf(c.Transport), w: d.stderr()}
	}
	if d.Observer != nil {
		c.Transport = api.ObservedTransport(c.Transport, d.Observer)
	}
	return c
}

func (d Deps) baseClient(timeout time.Duration) *http.Client {
	if d.HTTP != nil {
		c := *d.HTTP
		c.Timeout = timeout
		if tr, ok := c.Transport.(*http.Transport); ok {
			tr = tr.Clone()
			tr.IdleConnTimeout = IdleConnTimeout
			c.Transport = tr
		}
		return &c
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       IdleConnTimeout,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: timeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// TransportOf is rt, or the default transport for nil.
func TransportOf(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// debugTransport logs each request's method, URL (query values that could carry secrets redacted), status and
// duration. Headers and bodies — where tokens, secrets and assertions travel — are never logged.
type debugTransport struct {
	next http.RoundTripper
	w    io.Writer
	mu   sync.Mutex
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
	termtext.Fprintf(d.w, "debug: %s %s → %s in %s\n", req.Method, api.RedactURL(req.URL.String()), status, time.Since(start).Round(time.Millisecond))
	d.mu.Unlock()
	return resp, err
}

// errText is an error without the unredacted URL that *url.Error repeats.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
