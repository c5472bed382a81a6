// Package auth gets Microsoft Entra tokens for the auditor with MSAL Go: client secret, client certificate
// (PEM or PFX), workload identity federation, the host's managed identity, and device code sign-in by an
// administrator at a terminal; one token per audience reused until shortly before it expires.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// Config says how to authenticate one tenant's auditor.
type Config struct {
	TenantID string
	// ClientID is the app registration: a confidential client, or with DeviceCode a public client. A managed
	// identity needs none (see ManagedIdentityClientID).
	ClientID      string
	AuthorityHost string // e.g. https://login.microsoftonline.com; the tenant ID is appended

	// Exactly one credential.
	Secret              string
	CertificatePath     string // PEM (certificate and key) or PFX/PKCS#12
	CertificatePassword string
	FederatedTokenFile  string // a client assertion re-read on every token request (AZURE_FEDERATED_TOKEN_FILE)
	// ManagedIdentity asks the host's managed identity endpoint (App Service, Functions, Container Apps, Azure
	// VMs, Arc, …) for tokens: the system-assigned identity, or the user-assigned one ManagedIdentityClientID names.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// DeviceCode signs an administrator in once per run with the device code flow; DeviceCodePrompt shows them
	// the verification URL and code, and must be set with it.
	DeviceCode       bool
	DeviceCodePrompt func(message string)

	HTTPClient *http.Client
	Now        func() time.Time
}

// Source hands out tokens for scopes, reusing each until shortly before it expires. Safe for concurrent use.
type Source struct {
	tenantID  string
	kind      kind
	principal string // who signs in, as error messages name it
	flow      flow
	now       func() time.Time

	mu     sync.Mutex
	scopes map[string]*scopeToken

	requests atomic.Int64
}

// kind is the family of a credential, for the advice on its errors.
type kind int

const (
	appCredential kind = iota // secret, certificate or federated assertion of a confidential client
	managedIdentity
	deviceCode
)

// flow is one way of getting tokens from Entra.
type flow interface {
	// acquire gets a token for scope; fresh asks to bypass MSAL's own cache, after an API refused the last token.
	acquire(ctx context.Context, scope string, fresh bool) (token string, expires time.Time, err error)
}

type scopeToken struct {
	mu      sync.Mutex // held while fetching, so concurrent callers of one scope wait for one request
	token   string
	expires time.Time
	fresh   bool // the last token was refused: the next request must not come from MSAL's cache
}

// refreshMargin is how long before expiry a token stops being handed out.
const refreshMargin = 5 * time.Minute

// New builds a token source from cfg. It does not contact Entra until the first Token call.
func New(cfg Config) (*Source, error) {
	if cfg.TenantID == "" {
		return nil, errors.New("tenant ID is required")
	}
	if err := exactlyOne(cfg); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" && !cfg.ManagedIdentity {
		return nil, errors.New("client ID is required")
	}
	host := strings.TrimSuffix(cfg.AuthorityHost, "/")
	if host == "" {
		host = "https://login.microsoftonline.com"
	}
	if !strings.HasPrefix(host, "https://") {
		return nil, fmt.Errorf("authority %q must be an https URL", cfg.AuthorityHost)
	}
	s := &Source{tenantID: cfg.TenantID, now: cfg.Now, scopes: map[string]*scopeToken{}}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	switch {
	case cfg.ManagedIdentity:
		s.kind, s.principal = managedIdentity, "system-assigned managed identity"
		if cfg.ManagedIdentityClientID != "" {
			s.principal = "managed identity " + cfg.ManagedIdentityClientID
		}
		s.flow, err = newManagedIdentityFlow(cfg)
	case cfg.DeviceCode:
		s.kind, s.principal = deviceCode, "device code sign-in with client "+cfg.ClientID
		s.flow, err = newDeviceCodeFlow(cfg, host)
	default:
		s.principal = "client " + cfg.ClientID
		s.flow, err = newConfidentialFlow(cfg, host)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func exactlyOne(cfg Config) error {
	n := 0
	for _, set := range []bool{cfg.Secret != "", cfg.CertificatePath != "", cfg.FederatedTokenFile != "", cfg.ManagedIdentity, cfg.DeviceCode} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("no credential: set a client secret, a client certificate, a federated token file, managed identity or device code sign-in")
	case n > 1:
		return errors.New("more than one credential given: use exactly one of client secret, client certificate, federated token file, managed identity, device code sign-in")
	case cfg.ManagedIdentityClientID != "" && !cfg.ManagedIdentity:
		return errors.New("a managed identity client ID is given without managed identity")
	}
	return nil
}

// confidentialFlow is a confidential client: secret, certificate or federated assertion.
type confidentialFlow struct {
	newClient func() (confidential.Client, error)
	mu        sync.Mutex
	client    confidential.Client
	forgotten int // tokens in the client's cache that the Source forgot
}

// flowCacheForgotten is how many forgotten tokens MSAL's cache of a client may hold before the client is
// replaced by a new one, with an empty cache (the Source's own cache keeps the tokens still in use).
const flowCacheForgotten = 64

// forget notes that the Source forgot a token this flow's MSAL client still caches, and lets the client go
// once it holds many: MSAL has no call to drop a token from its cache.
func (f *confidentialFlow) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forgotten++; f.forgotten < flowCacheForgotten {
		return
	}
	if c, err := f.newClient(); err == nil {
		f.client, f.forgotten = c, 0
	}
}

func newConfidentialFlow(cfg Config, host string) (*confidentialFlow, error) {
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	opts := []confidential.Option{confidential.WithInstanceDiscovery(false)}
	if cfg.HTTPClient != nil {
		opts = append(opts, confidential.WithHTTPClient(cfg.HTTPClient))
	}
	f := &confidentialFlow{newClient: func() (confidential.Client, error) {
		return confidential.New(host+"/"+cfg.TenantID, cfg.ClientID, cred, opts...)
	}}
	if f.client, err = f.newClient(); err != nil {
		return nil, fmt.Errorf("create MSAL client: %w", err)
	}
	return f, nil
}

func (f *confidentialFlow) acquire(ctx context.Context, scope string, fresh bool) (string, time.Time, error) {
	// MSAL's cache would hand out a refused token again until it expires, so a fresh request gets a new client
	// (and with it an empty cache); the tokens of other scopes stay in the Source's cache.
	f.mu.Lock()
	if fresh {
		if c, err := f.newClient(); err == nil {
			f.client = c
		}
	}
	client := f.client
	f.mu.Unlock()
	res, err := client.AcquireTokenByCredential(ctx, []string{scope})
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}

func credential(cfg Config) (confidential.Credential, error) {
	switch {
	case cfg.Secret != "":
		return confidential.NewCredFromSecret(cfg.Secret)
	case cfg.CertificatePath != "":
		certs, key, err := LoadCertificate(cfg.CertificatePath, cfg.CertificatePassword)
		if err != nil {
			return confidential.Credential{}, err
		}
		return confidential.NewCredFromCert(certs, key)
	default:
		path := cfg.FederatedTokenFile
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			// Re-read every time: the platform rotates the file (GitHub OIDC, Kubernetes projected tokens).
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read federated token file: %w", err)
			}
			tok := strings.TrimSpace(string(b))
			if tok == "" {
				return "", fmt.Errorf("federated token file %s is empty", path)
			}
			return tok, nil
		}), nil
	}
}

// freshClaims is the claims request of a continuous access evaluation challenge, "a token issued from now on".
// MSAL bypasses its cache for a request with claims, which is what a token an API refused needs.
func freshClaims() string {
	return fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
}

// Token returns a bearer token for scope, from the cache while it is valid.
func (s *Source) Token(ctx context.Context, scope string) (string, error) {
	s.mu.Lock()
	st := s.scopes[scope]
	if st == nil {
		st = &scopeToken{}
		s.scopes[scope] = st
	}
	s.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.token != "" && s.now().Add(refreshMargin).Before(st.expires) {
		return st.token, nil
	}
	s.requests.Add(1)
	tok, expires, err := s.flow.acquire(ctx, scope, st.fresh)
	if err != nil {
		return "", s.explain(scope, err)
	}
	st.token, st.expires, st.fresh = tok, expires, false
	return st.token, nil
}

// Invalidate drops the cached token of scope, so the next call asks Entra again (after a 401 from an API),
// past MSAL's own cache; tokens of other scopes stay in this Source's cache.
func (s *Source) Invalidate(scope string) {
	s.mu.Lock()
	st := s.scopes[scope]
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	st.token, st.fresh = "", true
	st.mu.Unlock()
}

// Forget drops the cached token of scope, which its caller will not need again: the organization of an
// environment read to the end by a scan that lets each environment go. A fleet's tokens, one per organization,
// then do not pile up in memory. A later Token call for the scope asks Entra again.
func (s *Source) Forget(scope string) {
	s.mu.Lock()
	_, held := s.scopes[scope]
	delete(s.scopes, scope)
	s.mu.Unlock()
	if f, ok := s.flow.(forgetter); held && ok {
		f.forget()
	}
}

// forgetter is a flow with a cache of its own that Forget lets go of.
type forgetter interface{ forget() }

// Requests returns how many tokens were requested from Entra (cache misses).
func (s *Source) Requests() int64 { return s.requests.Load() }

var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

// explain turns an MSAL error into a message that says what to do. MSAL's errors carry Entra's
// error_description, which never contains the credential itself.
func (s *Source) explain(scope string, err error) error {
	msg := err.Error()
	code := ""
	if m := aadsts.FindStringSubmatch(msg); m != nil {
		code = m[1]
	}
	var hint string
	switch code {
	case "7000215", "7000222":
		hint = "the client secret is wrong or expired: create a new secret for the app registration and update the variable the config names"
	case "700016":
		hint = "the application was not found in the tenant: check tenant_id and client_id, and that an administrator consented to the app in this tenant"
	case "700027", "700024", "700023":
		hint = "the client assertion was rejected: check that the certificate (or federated credential) is registered on the app registration and not expired"
	case "700211", "700212", "700213":
		hint = "no federated credential of the app registration matches the token: add one with the token's issuer and subject and the audience api://AzureADTokenExchange"
	case "90002":
		hint = "the tenant was not found: check tenant_id and the cloud/authority"
	case "500011":
		hint = "the resource is not available in this tenant: check the cloud setting and the Dataverse instance URL"
	case "7000229":
		hint = "the app has no service principal in this tenant: an administrator must consent to it first"
	case "7000218":
		hint = "the app registration does not allow public client flows, which device code sign-in needs: in the Entra admin center, App registrations → the app → Authentication → Allow public client flows → Yes"
	case "65001":
		hint = "nobody consented to the app's delegated permissions: an administrator grants consent for the tenant (API permissions → Grant admin consent)"
	case "70019":
		hint = "the device code expired before the sign-in was completed: run again and finish signing in at the URL shown"
	}
	switch {
	case hint != "":
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify"):
		hint = "the authority's TLS certificate is not trusted: if it is served with a private CA, add that CA with SSL_CERT_FILE (TLS verification is never turned off)"
	case strings.Contains(msg, "read federated token file") || strings.Contains(msg, "federated token file"):
		hint = "the federated token file cannot be used: check federated_token_file (or AZURE_FEDERATED_TOKEN_FILE) and that the platform writes a token there"
	case strings.Contains(msg, "Unable to load the proper Managed Identity"):
		hint = "the managed identity is not assigned to this host: check managed_identity_client_id (a user-assigned identity attached to this App Service, Function, VM or cluster), or leave it out for the system-assigned identity"
	case strings.Contains(msg, "authorization_declined"):
		hint = "the administrator declined the sign-in"
	case errors.Is(err, context.DeadlineExceeded) && s.kind == deviceCode:
		hint = "the sign-in was not completed in time: run again and finish signing in at the URL shown"
	case s.kind == managedIdentity:
		hint = "the managed identity endpoint did not issue a token: managed_identity works on an Azure host with a managed identity (App Service, Functions, Container Apps, an Azure VM, Arc); check that one is assigned and has access"
	}
	detail := strings.Join(strings.Fields(msg), " ")
	if code != "" {
		detail = "AADSTS" + code + ": " + entraDescription(msg, code)
	}
	if hint != "" {
		return fmt.Errorf("token for %s (%s, tenant %s): %s (%s)", scope, s.principal, s.tenantID, hint, detail)
	}
	return fmt.Errorf("token for %s (%s, tenant %s): %s", scope, s.principal, s.tenantID, detail)
}

func entraDescription(msg, code string) string {
	i := strings.Index(msg, "AADSTS"+code+":")
	if i < 0 {
		return firstLine(msg)
	}
	rest := strings.TrimSpace(msg[i+len("AADSTS"+code+":"):])
	rest = strings.ReplaceAll(rest, `\r\n`, "\n")
	return firstLine(rest)
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
