// Package notify tells people what changed since the last scan: a generic JSON webhook, Microsoft Teams (an
// Adaptive Card) or Slack (Block Kit), sent when a scan finds new failures, resolved ones or inventory
// changes, as each target asks. Sends are retried with a timeout per attempt. Webhook URLs are secrets: they
// come from the caller (read from environment variables) and never appear in an error or a log line.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// Events a target can be sent for.
const (
	EventNewFailures = "new_failures"
	EventResolved    = "resolved"
	EventInventory   = "inventory"
)

// Target is one place to send notifications to.
type Target struct {
	Name        string
	Type        string // webhook, teams or slack
	URL         string // a secret: never logged, never in an error
	Events      []string
	MinSeverity string // failures below it do not count; "" counts all
	Timeout     time.Duration
	Retries     int
	// AllowPrivate lets the URL reach a loopback, private or link-local address (a relay inside the network, a
	// test). Without it such targets are refused, so that a webhook URL cannot be used to reach internal
	// services or cloud metadata endpoints.
	AllowPrivate bool
}

// Message is what a notification is about: one scan and what changed since the one before.
type Message struct {
	RunID   int64
	Tenants []string
	At      time.Time
	Drift   *report.Drift
	// Verdict is the scan's overall result in one sentence ("3 results fail at or above high").
	Verdict string
}

// Outcome is what became of one target.
type Outcome struct {
	Target   string
	Type     string
	Events   []string // the events it was sent for; none when nothing it asks for happened
	Sent     bool
	Attempts int
	Err      error
}

// Sender sends notifications.
type Sender struct {
	// Client sends the requests; nil uses one that verifies TLS against the system roots.
	Client *http.Client
	// Sleep waits between attempts; nil waits on a timer (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultClient is the client of a Sender without one: TLS 1.2 or later, proxies from the environment, and —
// unless allowPrivate — connections only to public addresses, checked on the address actually dialled, so
// that a name resolving to an internal address is refused too.
func DefaultClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 15 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip != nil && privateAddress(ip) {
				return errPrivate
			}
			return nil
		}
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 15 * time.Second,
		ForceAttemptHTTP2:   true,
	}}
}

var errPrivate = errors.New("the webhook resolves to a loopback, private or link-local address: refused unless allow_private_targets is set for it")

// privateAddress reports whether ip is loopback, private (RFC 1918, unique local), link-local (cloud metadata
// endpoints live there), shared (RFC 6598), unspecified or multicast.
func privateAddress(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedAddressSpace.Contains(ip)
}

var sharedAddressSpace = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}

// sameHostRedirects follows a redirect only to the same scheme, host and port (a path change within the service),
// at most five times: a webhook's body carries tenant data, and a redirect elsewhere would hand it on.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return errors.New("the webhook redirected to another host or scheme: not followed")
	}
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	return nil
}

// CheckURL says whether a webhook URL is usable: https, or http on a loopback address (a local relay or a
// test) when private targets are allowed. The error never repeats the URL.
func CheckURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return errors.New("the variable is empty or not set")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("the variable does not hold an absolute URL")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
		return errors.New("the URL is not https: notifications carry tenant data and go over TLS only (http is accepted for loopback addresses)")
	}
	if u.User != nil {
		return errors.New("the URL carries a user name or password before its host: put credentials in the path or query the service documents")
	}
	if !allowPrivate && (loopback(u.Hostname()) || privateLiteral(u.Hostname())) {
		return errPrivate
	}
	return nil
}

func privateLiteral(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && privateAddress(ip)
}

// checkResolved refuses a host name that resolves to a private address, for clients whose dialer does not
// check (an injected client, or a proxy that dials for us).
func checkResolved(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return nil // literals were checked by CheckURL
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil // the send reports that the name does not resolve
	}
	for _, ip := range ips {
		if privateAddress(ip) {
			return errPrivate
		}
	}
	return nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send notifies every target whose events happened, one after the other, and says what became of each. It
// never fails as a whole: a target that could not be reached is an outcome with its error.
func (s *Sender) Send(ctx context.Context, targets []Target, m Message) []Outcome {
	out := make([]Outcome, 0, len(targets))
	for _, t := range targets {
		o := Outcome{Target: t.Name, Type: t.Type}
		if m.Drift == nil {
			out = append(out, o)
			continue
		}
		view := filter(m.Drift, t)
		o.Events = view.events
		if len(o.Events) == 0 {
			out = append(out, o)
			continue
		}
		if err := CheckURL(t.URL, t.AllowPrivate); err != nil {
			o.Err = err
			out = append(out, o)
			continue
		}
		if !t.AllowPrivate {
			if err := checkResolved(ctx, t.URL); err != nil {
				o.Err = err
				out = append(out, o)
				continue
			}
		}
		body, err := payload(t.Type, m, view)
		if err != nil {
			o.Err = err
			out = append(out, o)
			continue
		}
		o.Attempts, o.Err = s.post(ctx, t, body)
		o.Sent = o.Err == nil
		out = append(out, o)
	}
	return out
}

// view is the part of a drift one target is told about.
type view struct {
	events      []string
	newFailures []report.DriftResult
	resolved    []report.DriftResult
	inventory   []report.InventoryChange
}

func filter(d *report.Drift, t Target) view {
	var v view
	threshold := policy.SeverityRank(t.MinSeverity)
	keep := func(rs []report.DriftResult) []report.DriftResult {
		var out []report.DriftResult
		for _, r := range rs {
			if policy.SeverityRank(r.Severity) >= threshold {
				out = append(out, r)
			}
		}
		return out
	}
	for _, e := range t.Events {
		switch e {
		case EventNewFailures:
			if v.newFailures = keep(d.NewFailures); len(v.newFailures) > 0 {
				v.events = append(v.events, e)
			}
		case EventResolved:
			if v.resolved = keep(d.Resolved); len(v.resolved) > 0 {
				v.events = append(v.events, e)
			}
		case EventInventory:
			if v.inventory = d.Inventory; len(v.inventory) > 0 {
				v.events = append(v.events, e)
			}
		}
	}
	return v
}

// post sends body with retries: a network error, 408, 429 or 5xx is tried again after a backoff (or the
// Retry-After the service gives, up to a minute); other answers are final.
func (s *Sender) post(ctx context.Context, t Target, body []byte) (int, error) {
	client := s.Client
	if client == nil {
		client = DefaultClient(t.AllowPrivate)
	}
	c := *client
	c.CheckRedirect = sameHostRedirects
	client = &c
	sleep := s.Sleep
	if sleep == nil {
		sleep = api.SleepContext
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	backoff := time.Second
	var last error
	attempts := 0
	for attempt := 0; attempt <= t.Retries; attempt++ {
		attempts++
		retry, after, err := s.attempt(ctx, client, t, body, timeout)
		if err == nil {
			return attempts, nil
		}
		last = err
		if !retry || attempt == t.Retries || ctx.Err() != nil {
			break
		}
		d := backoff
		if after > 0 {
			d = min(after, time.Minute)
		}
		if sleep(ctx, d) != nil {
			break
		}
		backoff *= 2
	}
	return attempts, fmt.Errorf("after %d %s: %w", attempts, map[bool]string{true: "attempt", false: "attempts"}[attempts == 1], last)
}

func (s *Sender) attempt(ctx context.Context, client *http.Client, t Target, body []byte, timeout time.Duration) (retry bool, after time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("build the request: the URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audit (Work 365 compliance auditor)")
	resp, err := client.Do(req)
	if err != nil {
		return true, 0, redact(err, t.URL)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if s := strings.TrimSpace(string(text)); s != "" {
		msg += ": " + scrub(oneLine(s), t.URL)
	}
	retry = resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		after = time.Duration(secs) * time.Second
	}
	return retry, after, errors.New(msg)
}

// redact turns a transport error into one that does not carry the URL: url.Error prints it whole.
func redact(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer within the timeout")
	case errors.Is(err, context.Canceled):
		return errors.New("cancelled")
	}
	return errors.New(scrub(err.Error(), raw))
}

// scrub removes the URL, and its path and query (where webhook secrets live), from a text.
func scrub(s, raw string) string {
	u, err := url.Parse(raw)
	parts := []string{raw}
	if err == nil {
		parts = append(parts, u.Path, u.RawQuery, u.EscapedPath())
	}
	for _, p := range parts {
		if len(p) > 1 {
			s = strings.ReplaceAll(s, p, "[webhook URL]")
		}
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
