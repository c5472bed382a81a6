// Package emulator is a loopback HTTPS server that speaks the Entra token endpoint, the Power Platform (BAP)
// admin environment list and a subset of the Dataverse Web API, backed by an in-memory tenant loaded from a
// fixture. Tests, the demo and users' rehearsals run the real scan and fix code against it.
package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Options tunes a Server; the zero value is a sensible default.
type Options struct {
	// Addr is the main listener's address (Entra, the managed identity endpoint, BAP); default "127.0.0.1:0".
	// Each Dataverse organization listens on the same host, on a port of its own chosen by the system.
	Addr string
	// Latency is added to every BAP and Dataverse request (not token requests), on top of per-environment latency.
	Latency time.Duration
	// MaxPageSize, if > 0, caps Dataverse and BAP page sizes whatever the client asks.
	MaxPageSize int
	// ConcurrencyLimit is the number of concurrent Dataverse requests per environment before 429 0x80072326;
	// default 52; negative means unlimited.
	ConcurrencyLimit int
	// TokenLifetime is the access token lifetime; default 3599s.
	TokenLifetime time.Duration
	// Now is the clock; default time.Now. Relative fixture times resolve against it at New.
	Now func() time.Time
	// Logf, if set, receives one line per request; it never sees tokens, secrets or assertions.
	Logf func(format string, args ...any)
	// DeviceCodePolls is how many token requests of a device code flow are answered authorization_pending
	// before the emulator approves the code in the administrator's stead; default 1, negative means never.
	DeviceCodePolls int
	// AllowCombinedExpand accepts a collection-valued $expand together with other expands in one query, which
	// one revision of Microsoft's "Join tables using OData" lists as unsupported; by default such queries are 400.
	AllowCombinedExpand bool
	// MaxExpandedItems caps the rows of an expanded collection given inline (also capped by the request's
	// Prefer odata.maxpagesize); default 5000.
	MaxExpandedItems int
	// DeferExpandedCollections answers every expanded collection of an entity-set query with an empty array and
	// its link, as older Web API versions did.
	DeferExpandedCollections bool
}

// Server is a running emulator for one tenant.
type Server struct {
	opts     Options
	tenant   TenantInfo
	auth     *authority
	ln       net.Listener
	http     *http.Server
	origin   string
	tokenKey []byte
	clients  map[string]*clientCreds
	spNames  map[string]string
	objectID func(appID string) string

	identityHeader string       // the managed identity endpoint's secret (IDENTITY_HEADER)
	systemIdentity string       // client ID of the system-assigned managed identity, "" for none
	signIns        *signInState // device codes and refresh tokens of public clients

	startOnce sync.Once
	closeOnce sync.Once
	serving   sync.WaitGroup          // the Serve loops of every listener
	orgs      map[string]*environment // by lower-cased origin, every environment with Dataverse

	mu        sync.Mutex // guards envs' mutable fields, stats and writes
	envs      []*environment
	bapFaults *faultSet
	stats     statsState
	writes    []WriteRecord
	traceSeq  int
}

// environment is the server-side state of one fixture environment.
type environment struct {
	id      string
	fixture Environment
	domain  string
	store   *store // nil without Dataverse

	// The organization's own listener and origin ("https://127.0.0.1:PORT"), as each real organization has
	// its own host; nil and "" without Dataverse.
	ln     net.Listener
	http   *http.Server
	origin string

	// Guarded by Server.mu.
	access   string
	faults   *faultSet
	removed  bool
	inFlight int
}

const (
	defaultConcurrencyLimit = 52
	defaultTokenLifetime    = 3599 * time.Second
	bapAudience             = "https://service.powerapps.com"
	bapAltAudience          = "https://api.bap.microsoft.com"
	apiPrefix               = "api/data/v9.2/"
)

// New builds a server for a fixture: it validates the fixture, generates the CA and server certificate and
// reserves the listening ports (the main one and one per Dataverse organization) so that URL() and
// InstanceURL() are known before Start.
func New(f *Fixture, opts Options) (*Server, error) {
	if f == nil {
		return nil, errors.New("new emulator: nil fixture")
	}
	if err := f.validate(nil); err != nil {
		return nil, fmt.Errorf("new emulator: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.ConcurrencyLimit == 0 {
		opts.ConcurrencyLimit = defaultConcurrencyLimit
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = defaultTokenLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeviceCodePolls == 0 {
		opts.DeviceCodePolls = 1
	}
	if opts.MaxExpandedItems <= 0 {
		opts.MaxExpandedItems = maxExpandedItems
	}
	s := &Server{opts: opts, tenant: f.Tenant, signIns: newSignInState(), orgs: map[string]*environment{}}
	if s.tenant.ID == "" {
		s.tenant.ID = deterministicID("tenant", strings.ToLower(s.tenant.Name))
	}
	s.tenant.ID = strings.ToLower(s.tenant.ID)
	if s.tenant.Name == "" {
		s.tenant.Name = "contoso"
	}
	if s.tenant.Domain == "" {
		s.tenant.Domain = strings.ToLower(s.tenant.Name) + ".onmicrosoft.com"
	}
	s.objectID = func(appID string) string {
		return deterministicID(s.tenant.ID, "serviceprincipal", strings.ToLower(appID))
	}
	s.tokenKey = make([]byte, 32)
	if _, err := rand.Read(s.tokenKey); err != nil {
		return nil, fmt.Errorf("new emulator: token key: %w", err)
	}
	var err error
	if s.identityHeader, err = randomSecret(); err != nil {
		return nil, fmt.Errorf("new emulator: identity header: %w", err)
	}
	if s.clients, err = loadClients(f.Clients); err != nil {
		return nil, fmt.Errorf("new emulator: %w", err)
	}
	s.spNames = map[string]string{}
	for _, c := range f.Clients {
		s.spNames[strings.ToLower(c.ClientID)] = c.Name
		if c.ManagedIdentity && s.systemIdentity == "" {
			s.systemIdentity = strings.ToLower(c.ClientID)
		}
	}
	for _, sp := range f.ServicePrincipals {
		s.spNames[strings.ToLower(sp.AppID)] = sp.Name
	}

	now := opts.Now()
	tc := tenantContext{tenant: s.tenant, clients: f.Clients, spNames: s.spNames, now: now, objectID: s.objectID}
	for _, e := range f.Environments {
		env := &environment{fixture: e, id: strings.ToLower(e.ID), access: e.Access, faults: newFaultSet(e.Faults)}
		if env.id == "" {
			env.id = deterministicID(s.tenant.ID, "environment", strings.ToLower(e.Name))
		}
		if env.access == "" {
			env.access = "full"
		}
		if e.Dataverse != nil {
			env.domain = envDomain(e)
			if env.store, err = newStore(tc, env.id, e, opts.Now); err != nil {
				return nil, fmt.Errorf("new emulator: environment %q: %w", e.Name, err)
			}
		}
		s.envs = append(s.envs, env)
	}
	s.bapFaults = newFaultSet(f.BAP)
	s.stats = newStatsState()

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("new emulator: listen: %w", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if !ip.IsLoopback() {
		ips = append(ips, ip)
	}
	// TLS clients check certificates against the real clock, whatever clock the fixture runs on.
	if s.auth, err = newAuthority(time.Now(), ips); err != nil {
		ln.Close()
		return nil, fmt.Errorf("new emulator: %w", err)
	}
	s.ln = ln
	s.origin = "https://" + net.JoinHostPort(ip.String(), port)
	s.http = s.newHTTPServer(s)
	if err := s.listenOrganizations(ip); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("new emulator: %w", err)
	}
	return s, nil
}

// listenOrganizations reserves a port for every environment with Dataverse, on the main listener's host.
func (s *Server) listenOrganizations(ip net.IP) error {
	for _, env := range s.envs {
		if env.store == nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return fmt.Errorf("listen for organization %s: %w", env.domain, err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		env.ln = ln
		env.origin = "https://" + net.JoinHostPort(ip.String(), port)
		env.http = s.newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveOrganization(env, w, r) }))
		s.orgs[strings.ToLower(env.origin)] = env
	}
	return nil
}

// newHTTPServer is the HTTP server of one listener; every listener presents the same certificate.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.auth.leafTLS}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		// Handshake failures from clients that do not trust the CA are expected in tests; keep them off stderr.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// closeListeners releases every reserved port, for a server that will not be served.
func (s *Server) closeListeners() {
	s.ln.Close()
	for _, env := range s.envs {
		if env.ln != nil {
			env.ln.Close()
		}
	}
}

// loadClients parses the credentials of every client once, so token requests only compare.
func loadClients(cs []Client) (map[string]*clientCreds, error) {
	out := map[string]*clientCreds{}
	for _, c := range cs {
		cc, err := newClientCreds(c)
		if err != nil {
			return nil, fmt.Errorf("client %q: %w", c.Name, err)
		}
		out[strings.ToLower(c.ClientID)] = cc
	}
	return out, nil
}

// Start serves TLS on the reserved ports in the background.
func (s *Server) Start() error {
	s.startOnce.Do(func() {
		s.serve(s.http, s.ln)
		for _, env := range s.envs {
			if env.http != nil {
				s.serve(env.http, env.ln)
			}
		}
	})
	return nil
}

func (s *Server) serve(h *http.Server, ln net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		// The error tells nothing a caller could use: http.ErrServerClosed after Close, and otherwise the
		// listener failed and its organization stops answering, as an unreachable host would.
		h.ServeTLS(ln, "", "")
	}()
}

// Close stops the server and releases its ports; it returns once every listener has stopped serving.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// A graceful shutdown would wait a second per HTTP/2 client for its GOAWAY; an emulator owes its
		// clients no such courtesy, and tests start many servers.
		err = s.http.Close()
		for _, env := range s.envs {
			if env.http != nil {
				if cerr := env.http.Close(); err == nil {
					err = cerr
				}
			}
		}
		// Listeners of a server that was never started are not known to their http.Server.
		s.closeListeners()
		s.serving.Wait()
	})
	return err
}

// URL is the main listener's origin, "https://127.0.0.1:PORT": Entra, the managed identity endpoint and BAP.
func (s *Server) URL() string { return s.origin }

// TenantID is the emulated tenant's GUID.
func (s *Server) TenantID() string { return s.tenant.ID }

// Authority is the Entra authority URL to give MSAL: URL()+"/"+TenantID().
func (s *Server) Authority() string { return s.origin + "/" + s.tenant.ID }

// BAPURL is the base URL for BAP admin API paths.
func (s *Server) BAPURL() string { return s.origin }

// BAPScope is the scope a client asks for to call the BAP admin API.
func (s *Server) BAPScope() string { return bapAudience + "/.default" }

// DataverseScope is the scope a client asks for to call one environment's Dataverse: its organization's
// origin + "/.default", or "" without Dataverse.
func (s *Server) DataverseScope(envIDOrName string) string {
	env := s.findEnv(envIDOrName)
	if env == nil || env.store == nil {
		return ""
	}
	return env.origin + "/.default"
}

// CACertPEM is the emulator CA certificate in PEM form (for SSL_CERT_FILE).
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.auth.caPEM...) }

// CertPool is a pool holding only the emulator CA.
func (s *Server) CertPool() *x509.CertPool { return s.auth.pool.Clone() }

// HTTPClient is an HTTP client that trusts the emulator CA and nothing else.
func (s *Server) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// WriteCAFile writes the CA certificate to path, for processes that read SSL_CERT_FILE.
func (s *Server) WriteCAFile(path string) error {
	if err := os.WriteFile(path, s.auth.caPEM, 0o644); err != nil {
		return fmt.Errorf("write CA file: %w", err)
	}
	return nil
}

// InstanceURL is an environment's Dataverse instance URL, its organization's origin with a trailing slash
// ("https://127.0.0.1:PORT/"), or "" without Dataverse.
func (s *Server) InstanceURL(envIDOrName string) string {
	env := s.findEnv(envIDOrName)
	if env == nil || env.store == nil {
		return ""
	}
	return s.instanceURL(env)
}

// EnvironmentID resolves an environment's ID from its ID, display name or Dataverse domain.
func (s *Server) EnvironmentID(envIDOrName string) string {
	if env := s.findEnv(envIDOrName); env != nil {
		return env.id
	}
	return ""
}

// UserID resolves the systemuserid of a fixture user key (or of a client's application user by its client ID).
func (s *Server) UserID(envIDOrName, key string) string {
	env := s.findEnv(envIDOrName)
	if env == nil || env.store == nil {
		return ""
	}
	st := env.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	if id := st.id("systemuser", strings.ToLower(key)); st.tables[setUsers][id] != nil {
		return id
	}
	if id := st.id("systemuser", "client:"+strings.ToLower(key)); st.tables[setUsers][id] != nil {
		return id
	}
	for id, r := range st.tables[setUsers] {
		if strings.EqualFold(fmt.Sprint(r["domainname"]), key) || strings.EqualFold(fmt.Sprint(r["fullname"]), key) {
			return id
		}
	}
	return ""
}

func (s *Server) instanceURL(env *environment) string {
	return env.origin + "/"
}

// Rows deep-copies a table as the API would return it with all columns, in primary-key order.
func (s *Server) Rows(envIDOrName, entitySet string) []map[string]any {
	env := s.findEnv(envIDOrName)
	if env == nil || env.store == nil {
		return nil
	}
	return env.store.copyTable(entitySet)
}

// SetFaults replaces an environment's faults (and resets their counters).
func (s *Server) SetFaults(envIDOrName string, f Faults) error {
	if err := validateFaults(f, "faults", func(...any) int { return 0 }); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	env := s.findEnv(envIDOrName)
	if env == nil {
		return fmt.Errorf("set faults: unknown environment %q", envIDOrName)
	}
	s.mu.Lock()
	env.faults = newFaultSet(f)
	s.mu.Unlock()
	return nil
}

// SetBAPFaults replaces the faults of the tenant-level environment list.
func (s *Server) SetBAPFaults(f Faults) error {
	if err := validateFaults(f, "bap faults", func(...any) int { return 0 }); err != nil {
		return fmt.Errorf("set BAP faults: %w", err)
	}
	s.mu.Lock()
	s.bapFaults = newFaultSet(f)
	s.mu.Unlock()
	return nil
}

// SetAccess sets what the clients may do in an environment: "full", "read" or "none".
func (s *Server) SetAccess(envIDOrName string, access string) error {
	if access == "" || !validAccess[access] {
		return fmt.Errorf("set access: %q is not full, read or none", access)
	}
	env := s.findEnv(envIDOrName)
	if env == nil {
		return fmt.Errorf("set access: unknown environment %q", envIDOrName)
	}
	s.mu.Lock()
	env.access = access
	s.mu.Unlock()
	return nil
}

// RemoveEnvironment deletes an environment: it leaves the BAP list and its Dataverse answers 404, as for an
// environment deleted between the list and the read.
func (s *Server) RemoveEnvironment(envIDOrName string) error {
	env := s.findEnv(envIDOrName)
	if env == nil {
		return fmt.Errorf("remove environment: unknown environment %q", envIDOrName)
	}
	s.mu.Lock()
	env.removed = true
	s.mu.Unlock()
	return nil
}

// findEnv matches an ID, display name or Dataverse domain, case-insensitively; removed ones included.
func (s *Server) findEnv(key string) *environment {
	for _, e := range s.envs {
		if strings.EqualFold(e.id, key) || strings.EqualFold(e.fixture.Name, key) || (e.domain != "" && strings.EqualFold(e.domain, key)) {
			return e
		}
	}
	return nil
}

// ServeHTTP answers the main listener, routed by path: the managed identity endpoint, the device login page,
// BAP under /providers/, and Entra under /{tenant}/. Dataverse is served on each organization's own port.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	switch {
	case r.URL.Path == managedIdentityPath:
		s.serveManagedIdentity(rec, r)
	case r.URL.Path == deviceLoginPath:
		s.serveDeviceLogin(rec, r)
	case strings.HasPrefix(r.URL.Path, "/providers/"):
		s.serveBAP(rec, r)
	case strings.HasPrefix(r.URL.Path, "/api/"), strings.HasPrefix(r.URL.Path, "/org/"):
		// The main port is no organization (nor is the path form of older emulators).
		notFoundSegment(strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]).write(rec)
	default:
		s.serveEntra(rec, r)
	}
	s.logRequest(r, "", rec.status, start)
}

// serveOrganization answers an organization's own port: everything there is its Dataverse Web API.
func (s *Server) serveOrganization(env *environment, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	s.serveDataverse(rec, r, env)
	s.logRequest(r, env.domain, rec.status, start)
}

// logRequest writes the request line of Options.Logf, naming the organization of a Dataverse request.
func (s *Server) logRequest(r *http.Request, org string, status int, start time.Time) {
	if s.opts.Logf == nil {
		return
	}
	target := r.URL.Path
	// Token requests carry secrets in the body only; the query of API requests holds no credentials.
	if r.URL.RawQuery != "" && !strings.Contains(r.URL.Path, "/oauth2/") {
		target += "?" + r.URL.RawQuery
	}
	if org != "" {
		target += " on " + org
	}
	s.opts.Logf("emulator: %s %s -> %d (%s)", r.Method, target, status, time.Since(start).Round(time.Millisecond))
}

// statusRecorder remembers the status for the request log and the write journal.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to hijack it for reset faults, to flush).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// response is a complete answer, built before faults may alter it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (resp *response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.body != nil {
		w.Header().Set("Content-Length", fmt.Sprint(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	if len(resp.body) > 0 {
		w.Write(resp.body)
	}
}

// marshalJSON encodes like the real services: "&" and "<" stay as they are, which matters in nextLink URLs.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// sleep waits d unless the request is cancelled first; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nextTraceID gives deterministic trace and correlation IDs for Entra error bodies.
func (s *Server) nextTraceID() string {
	s.mu.Lock()
	s.traceSeq++
	n := s.traceSeq
	s.mu.Unlock()
	return deterministicID(s.tenant.ID, "trace", fmt.Sprint(n))
}
