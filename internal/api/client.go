package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// TokenSource hands out bearer tokens for a scope such as "https://org.crm.dynamics.com/.default".
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
}

// Defaults for a Client's zero fields.
const (
	DefaultMaxAttempts  = 6
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMaxWait bounds the waiting of one request across its retries; it leaves room for two waits at the
	// ceiling below.
	DefaultMaxWait = 10 * time.Minute
	// DefaultMaxRetryAfter is the longest single wait a service may ask for with Retry-After. Dataverse's service
	// protection asks for minutes under sustained load; a longer wait is refused, never slept through.
	DefaultMaxRetryAfter = 5 * time.Minute
	userAgent            = "work365-audit"
)

// Client sends authenticated requests to one API family. It is safe for concurrent use.
type Client struct {
	HTTP   *http.Client
	Tokens TokenSource
	// MaxAttempts bounds how often a GET is tried (429, 5xx and transport errors are retried).
	MaxAttempts int
	// MaxBodyBytes bounds every response body; a larger one is an error, never a silent truncation.
	MaxBodyBytes int64
	// MaxWait bounds the total time one request may spend waiting between attempts.
	MaxWait time.Duration
	// MaxRetryAfter is the longest single Retry-After honoured; a longer one ends the request with a *WaitError.
	MaxRetryAfter time.Duration
	// BaseBackoff is the first wait when the service gives no Retry-After; it doubles per attempt.
	BaseBackoff time.Duration
	// Sleep waits for d or until ctx is done; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock a Retry-After given as an HTTP date is read against; nil is time.Now. Tests replace it.
	Now func() time.Time
	// UserAgent is sent with every request.
	UserAgent string
	// Observer, when set, is told of every retry (the exchanges themselves are observed by the HTTP client's
	// transport: see ObservedTransport).
	Observer Observer

	requests atomic.Int64
	retries  atomic.Int64
}

// Stats are counters of a Client's traffic.
type Stats struct {
	Requests int64 // HTTP requests sent, retries included
	Retries  int64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load()}
}

// Request is one API call.
type Request struct {
	Method string
	URL    string
	Scope  string // token scope; empty sends no Authorization header
	Header http.Header
	Body   any  // marshalled as JSON when non-nil
	Retry  bool // retry on 429/5xx/transport errors; true for GETs, false for writes
}

// Response is a completed call with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends the request, retrying per its Retry setting, and returns the response of a 2xx answer.
// Any other answer is an *Error.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	return c.do(ctx, r, nil)
}

// Stream sends a GET, retrying like Do, and hands the body of a 2xx JSON answer to decode as it arrives,
// instead of reading it into memory first. The returned Response has no Body. decode must start afresh when
// called again: a read error while it runs is a transport error, retried with the whole request. Any other
// error of decode makes the answer malformed (an *Error naming it, not retried).
func (c *Client) Stream(ctx context.Context, url, scope string, header http.Header, decode func(io.Reader) error) (*Response, error) {
	return c.do(ctx, Request{Method: http.MethodGet, URL: url, Scope: scope, Header: header, Retry: true}, decode)
}

func (c *Client) do(ctx context.Context, r Request, decode func(io.Reader) error) (*Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
	}
	maxAttempts := c.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if !r.Retry {
		maxAttempts = 1
	}
	var waited time.Duration
	reauthenticated := false
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, r, body, decode)
		if err == nil {
			return resp, nil
		}
		// A 401 on a token that looked valid (revoked, or clocks apart) is answered once with a fresh token.
		// The service refused the request before acting on it, so this is safe for writes too.
		if inv, ok := c.Tokens.(interface{ Invalidate(string) }); ok && r.Scope != "" && !reauthenticated && StatusOf(err) == http.StatusUnauthorized {
			reauthenticated = true
			inv.Invalidate(r.Scope)
			attempt--
			continue
		}
		if ctx.Err() != nil || attempt >= maxAttempts || !retryable(err) {
			return nil, err
		}
		wait, werr := c.RetryWait(ctx, err, attempt, waited)
		if werr != nil {
			return nil, werr
		}
		waited += wait
		c.retries.Add(1)
		if c.Observer != nil {
			if u, perr := url.Parse(r.URL); perr == nil {
				c.Observer.Retry(ServiceOf(u))
			}
		}
		if err := c.wait(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// A Yielder holds something on behalf of the requests of a context that they do not need while they wait to be
// tried again, such as a slot of a bounded number of requests in flight. Before each wait between attempts (a
// Retry-After or a backoff) the client calls Yield, so that others can use it meanwhile, and after the wait,
// before the next attempt, Resume to take it back. Resume follows every Yield, also when the wait was cut short;
// its error ends the request. Both are called from the goroutine sending the request: a Yielder meant for one
// request at a time belongs in the context of one request at a time.
type Yielder interface {
	Yield()
	Resume(ctx context.Context) error
}

type yielderKey struct{}

// WithYielder returns a context whose requests yield y while they wait between attempts. Only the client's own
// retries do: a caller that waits on its own, as internal/fix does between the attempts of a write, decides for
// itself what to hold meanwhile.
func WithYielder(ctx context.Context, y Yielder) context.Context {
	return context.WithValue(ctx, yielderKey{}, y)
}

// wait sleeps for d between two attempts, lending out what the context's Yielder holds meanwhile.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	y, _ := ctx.Value(yielderKey{}).(Yielder)
	if y == nil {
		return c.sleep(ctx, d)
	}
	y.Yield()
	err := c.sleep(ctx, d)
	if rerr := y.Resume(ctx); err == nil {
		err = rerr
	}
	return err
}

// WaitError is a retry the client will not wait for: the service asked for a longer wait than the ceiling, the
// wait would exceed the request's budget, or it would end after the caller's deadline. It wraps the answer that
// asked for the wait.
type WaitError struct {
	Wait   time.Duration // what the service asked for (or the backoff chose)
	Reason string        // why it is not waited for, naming the setting that bounds it
	Err    error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%v — a retry would wait %s, %s", e.Err, roundWait(e.Wait), e.Reason)
}

func (e *WaitError) Unwrap() error { return e.Err }

func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// RetryWait is how long to wait before trying again a request that failed with err, after attempt tries and
// waited time spent waiting: Retry-After when the service sent one, else a doubling backoff with jitter. It
// returns a *WaitError instead when the service asks for more than MaxRetryAfter, when the wait would take the
// request's waiting beyond MaxWait, or when it would end after ctx's deadline: waits are always bounded, and a
// wait that cannot complete is not started. Writes use it too, so their throttling obeys the same bounds.
func (c *Client) RetryWait(ctx context.Context, err error, attempt int, waited time.Duration) (time.Duration, error) {
	ceiling := c.MaxRetryAfter
	if ceiling <= 0 {
		ceiling = DefaultMaxRetryAfter
	}
	budget := c.MaxWait
	if budget <= 0 {
		budget = DefaultMaxWait
	}
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > ceiling {
		return 0, &WaitError{Wait: e.RetryAfter, Err: err,
			Reason: fmt.Sprintf("longer than the %s ceiling on Retry-After (collect.max_retry_after): stopping here instead", roundWait(ceiling))}
	}
	wait := c.backoff(attempt, err)
	if waited+wait > budget {
		return 0, &WaitError{Wait: wait, Err: err,
			Reason: fmt.Sprintf("beyond the %s one request may wait in all (collect.max_retry_wait; %s waited already)", roundWait(budget), roundWait(waited))}
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
		return 0, &WaitError{Wait: wait, Err: err,
			Reason: fmt.Sprintf("past the deadline of this work (collect.timeout), %s from now", roundWait(time.Until(deadline)))}
	}
	return wait, nil
}

func (c *Client) once(ctx context.Context, r Request, body []byte, decode func(io.Reader) error) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	ua := c.UserAgent
	if ua == "" {
		ua = userAgent
	}
	req.Header.Set("User-Agent", ua)
	if r.Scope != "" {
		tok, err := c.Tokens.Token(ctx, r.Scope)
		if err != nil {
			return nil, &tokenError{err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	c.requests.Add(1)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error repeats the request's URL in its text: keep only what went wrong, beside the redacted URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &transportError{method: r.Method, url: redactURL(r.URL), err: err}
	}
	defer resp.Body.Close()
	limit := c.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if decode != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 && isJSON(resp.Header.Get("Content-Type")) {
		return c.stream(r, resp, limit, decode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &transportError{method: r.Method, url: redactURL(r.URL), err: fmt.Errorf("read body: %w", err)}
	}
	if int64(len(data)) > limit {
		return nil, &Error{Method: r.Method, URL: redactURL(r.URL), Status: resp.StatusCode,
			Message: fmt.Sprintf("response body larger than %d MiB: refusing to read it", limit>>20)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newError(req, resp, data, c.now())
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if decode != nil {
		// Not JSON: DecodeJSON says what came instead, as for a read into memory.
		if err := DecodeJSON(r.Method, r.URL, out, new(json.RawMessage)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stream runs decode on a 2xx JSON body as it arrives, with the same size limit and error classes as a read
// into memory: too large, no complete answer (transport, retried), or malformed.
func (c *Client) stream(r Request, resp *http.Response, limit int64, decode func(io.Reader) error) (*Response, error) {
	body := &bodyReader{r: resp.Body, limit: limit}
	err := decode(body)
	if err == nil {
		// The decoder stops after the document; reading to the end lets HTTP/1.1 reuse the connection.
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	}
	switch {
	case body.n > limit:
		return nil, &Error{Method: r.Method, URL: redactURL(r.URL), Status: resp.StatusCode,
			Message: fmt.Sprintf("response body larger than %d MiB: refusing to read it", limit>>20)}
	case body.err != nil:
		return nil, &transportError{method: r.Method, url: redactURL(r.URL), err: fmt.Errorf("read body: %w", body.err)}
	case err != nil:
		return nil, &Error{Method: r.Method, URL: redactURL(r.URL), Status: resp.StatusCode,
			Message: fmt.Sprintf("malformed JSON answer: %v", err), Body: snippet(body.head)}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header}, nil
}

// bodyReader counts and bounds what is read from a body, keeps its first bytes for error messages, and
// remembers a read error (as opposed to the end of the body), which decoders would report as malformed input.
type bodyReader struct {
	r     io.Reader
	limit int64
	n     int64
	head  []byte
	err   error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, io.EOF
	}
	if rest := b.limit + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	// One byte more than a snippet shows, so that snippet marks a longer body as cut.
	if len(b.head) <= bodySnippet && n > 0 {
		b.head = append(b.head, p[:min(n, bodySnippet+1-len(b.head))]...)
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// GetJSON sends a GET (retried) and decodes a JSON object answer into v.
func (c *Client) GetJSON(ctx context.Context, url, scope string, header http.Header, v any) (*Response, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, URL: url, Scope: scope, Header: header, Retry: true})
	if err != nil {
		return nil, err
	}
	if err := DecodeJSON(http.MethodGet, url, resp, v); err != nil {
		return nil, err
	}
	return resp, nil
}

// DecodeJSON checks that a response is JSON and decodes it into v.
func DecodeJSON(method, url string, resp *Response, v any) error {
	ct := resp.Header.Get("Content-Type")
	if !isJSON(ct) {
		return &Error{Method: method, URL: redactURL(url), Status: resp.Status,
			Message: fmt.Sprintf("expected a JSON answer, got %s (a proxy or gateway may have answered)", mediaType(ct)),
			Body:    snippet(resp.Body)}
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return &Error{Method: method, URL: redactURL(url), Status: resp.Status,
			Message: fmt.Sprintf("malformed JSON answer: %v", err), Body: snippet(resp.Body)}
	}
	return nil
}

func isJSON(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func mediaType(contentType string) string {
	if contentType == "" {
		return "no content type"
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strconv.Quote(contentType)
	}
	return mt
}

// tokenError marks a failure to get a token: never retried here (MSAL has its own policy).
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// transportError is a request that got no HTTP answer (reset, timeout, refused).
type transportError struct {
	method, url string
	err         error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.method, e.url, e.err)
}
func (e *transportError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transportError
	if errors.As(err, &te) {
		// A certificate error will not fix itself; everything else (reset, EOF, timeout) may.
		return !isTLSVerificationError(te.err)
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

func isTLSVerificationError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "x509:") || strings.Contains(s, "tls: failed to verify")
}

// IsTransport reports whether err is a request that got no HTTP answer at all.
func IsTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// IsTimeout reports whether err is a timeout of the request or of the network.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (c *Client) backoff(attempt int, err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	base := c.BaseBackoff
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	// Doubling stops at the cap instead of shifting by the attempt: a shift overflows after some 35 attempts
	// (max_attempts is not bounded) and a negative wait would make the jitter panic.
	d := min(base, maxBackoff)
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d = min(2*d, maxBackoff)
	}
	// Jitter keeps many environments that were throttled together from retrying together.
	return d/2 + rand.N(d/2+1)
}

// maxBackoff caps the doubling wait chosen when the service gives no Retry-After.
const maxBackoff = 30 * time.Second

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return SleepContext(ctx, d)
}

// SleepContext waits for d or until ctx is done.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads Retry-After in either form RFC 9110 §10.2.3 allows: delay-seconds (whole seconds; a
// fraction is accepted too) or an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms), read
// against now. A number too large for a time.Duration is the longest wait there is, so that the ceiling refuses
// it; a date in the past, or anything else, is no wait at all and leaves the choice to the backoff.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if isDelaySeconds(v) {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs >= float64(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// isDelaySeconds reports whether v is digits, with at most one fractional part: strconv.ParseFloat alone would
// also take "1e9", "Inf" and hexadecimal.
func isDelaySeconds(v string) bool {
	whole, frac, dotted := strings.Cut(v, ".")
	return whole != "" && allDigits(whole) && (!dotted || frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
