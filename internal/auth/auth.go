// Package auth gets Microsoft Entra tokens for the auditor with MSAL Go: client secret, client certificate
// (PEM or PFX) and workload identity federation, one token per audience reused until shortly before it expires.
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

// Config says how to authenticate one tenant's auditor application.
type Config struct {
	TenantID      string
	ClientID      string
	AuthorityHost string // e.g. https://login.microsoftonline.com; the tenant ID is appended

	// Exactly one credential.
	Secret              string
	CertificatePath     string // PEM (certificate and key) or PFX/PKCS#12
	CertificatePassword string
	FederatedTokenFile  string // a client assertion re-read on every token request (AZURE_FEDERATED_TOKEN_FILE)

	HTTPClient *http.Client
	Now        func() time.Time
}

// Source hands out tokens for scopes, reusing each until shortly before it expires. Safe for concurrent use.
type Source struct {
	tenantID, clientID string
	newClient          func() (confidential.Client, error)
	now                func() time.Time

	clientMu sync.Mutex
	client   confidential.Client

	mu     sync.Mutex
	scopes map[string]*scopeToken

	requests atomic.Int64
}

type scopeToken struct {
	mu      sync.Mutex // held while fetching, so concurrent callers of one scope wait for one request
	token   string
	expires time.Time
}

// refreshMargin is how long before expiry a token stops being handed out.
const refreshMargin = 5 * time.Minute

// New builds a token source from cfg. It does not contact Entra until the first Token call.
func New(cfg Config) (*Source, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, errors.New("tenant ID and client ID are required")
	}
	host := strings.TrimSuffix(cfg.AuthorityHost, "/")
	if host == "" {
		host = "https://login.microsoftonline.com"
	}
	if !strings.HasPrefix(host, "https://") {
		return nil, fmt.Errorf("authority %q must be an https URL", cfg.AuthorityHost)
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	opts := []confidential.Option{confidential.WithInstanceDiscovery(false)}
	if cfg.HTTPClient != nil {
		opts = append(opts, confidential.WithHTTPClient(cfg.HTTPClient))
	}
	newClient := func() (confidential.Client, error) {
		return confidential.New(host+"/"+cfg.TenantID, cfg.ClientID, cred, opts...)
	}
	client, err := newClient()
	if err != nil {
		return nil, fmt.Errorf("create MSAL client: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Source{tenantID: cfg.TenantID, clientID: cfg.ClientID, client: client, newClient: newClient, now: now, scopes: map[string]*scopeToken{}}, nil
}

func credential(cfg Config) (confidential.Credential, error) {
	n := 0
	for _, set := range []bool{cfg.Secret != "", cfg.CertificatePath != "", cfg.FederatedTokenFile != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return confidential.Credential{}, errors.New("no credential: set a client secret, a client certificate or a federated token file")
	case n > 1:
		return confidential.Credential{}, errors.New("more than one credential given: use exactly one of client secret, client certificate, federated token file")
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
			return strings.TrimSpace(string(b)), nil
		}), nil
	}
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
	s.clientMu.Lock()
	client := s.client
	s.clientMu.Unlock()
	res, err := client.AcquireTokenByCredential(ctx, []string{scope})
	if err != nil {
		return "", s.explain(scope, err)
	}
	st.token, st.expires = res.AccessToken, res.ExpiresOn
	return st.token, nil
}

// Invalidate drops the cached token of scope, so the next call asks Entra again (after a 401 from an API).
// MSAL's own cache would hand out the same token until it expires, so the MSAL client is replaced too;
// tokens of other scopes stay in this Source's cache.
func (s *Source) Invalidate(scope string) {
	s.mu.Lock()
	st := s.scopes[scope]
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	st.token = ""
	st.mu.Unlock()
	if c, err := s.newClient(); err == nil {
		s.clientMu.Lock()
		s.client = c
		s.clientMu.Unlock()
	}
}

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
	case "90002":
		hint = "the tenant was not found: check tenant_id and the cloud/authority"
	case "500011":
		hint = "the resource is not available in this tenant: check the cloud setting and the Dataverse instance URL"
	case "7000229":
		hint = "the app has no service principal in this tenant: an administrator must consent to it first"
	}
	detail := strings.Join(strings.Fields(msg), " ")
	if code != "" {
		detail = "AADSTS" + code + ": " + entraDescription(msg, code)
	}
	if hint == "" && (strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify")) {
		hint = "the authority's TLS certificate is not trusted: if it is served with a private CA, add that CA with SSL_CERT_FILE (TLS verification is never turned off)"
	}
	if hint != "" {
		return fmt.Errorf("token for %s (client %s, tenant %s): %s (%s)", scope, s.clientID, s.tenantID, hint, detail)
	}
	return fmt.Errorf("token for %s (client %s, tenant %s): %s", scope, s.clientID, s.tenantID, detail)
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
