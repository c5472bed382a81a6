package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Entra error codes the token endpoint answers with (the real AADSTS numbers).
const (
	aadInvalidSecret        = 7000215
	aadNoCredential         = 7000216
	aadAppNotFound          = 700016
	aadBadAssertion         = 700027
	aadAssertionIDMismatch  = 700021
	aadAssertionTime        = 700024
	aadMalformedJWT         = 50027
	aadTenantNotFound       = 90002
	aadMissingParameter     = 900144
	aadUnsupportedGrant     = 70003
	aadScopeNotDefault      = 1002012
	aadScopeManyResources   = 28000
	aadResourceNotFound     = 500011
	aadFedIssuerNotFound    = 700211
	aadFedAudienceNotFound  = 700212
	aadFedSubjectNotFound   = 700213
	aadPostOnly             = 900561
	clientAssertionTypeJWT  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	federatedTokenAudience  = "api://AzureADTokenExchange"
	maxTokenRequestBodySize = 1 << 20
	clockSkew               = 5 * time.Minute
)

// entraError is a refused token request, rendered in Entra's JSON error shape.
type entraError struct {
	status  int
	code    string
	aadsts  int
	message string
}

func (e *entraError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.message) }

func (s *Server) serveEntra(w http.ResponseWriter, r *http.Request) {
	tenantSeg, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	correlation := r.Header.Get("client-request-id")
	if correlation == "" {
		correlation = s.nextTraceID()
	}
	known := strings.EqualFold(tenantSeg, s.tenant.ID) || strings.EqualFold(tenantSeg, s.tenant.Domain)
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		if !known {
			s.writeEntraError(w, correlation, &entraError{http.StatusBadRequest, "invalid_tenant", aadTenantNotFound, tenantNotFound(tenantSeg)})
			return
		}
		s.writeOpenIDConfiguration(w)
	case "oauth2/v2.0/token":
		if !known {
			s.countToken("", "", false)
			s.writeEntraError(w, correlation, &entraError{http.StatusBadRequest, "invalid_request", aadTenantNotFound, tenantNotFound(tenantSeg)})
			return
		}
		s.serveToken(w, r, tenantSeg, correlation)
	case "discovery/v2.0/keys":
		// Access tokens are HMAC-signed with a per-server key, so there is no public key to publish.
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}}, "application/json; charset=utf-8")
	case "oauth2/v2.0/devicecode":
		if !known {
			s.writeEntraError(w, correlation, &entraError{http.StatusBadRequest, "invalid_request", aadTenantNotFound, tenantNotFound(tenantSeg)})
			return
		}
		s.serveDeviceCode(w, r, correlation)
	case "oauth2/v2.0/authorize":
		s.writeEntraError(w, correlation, &entraError{http.StatusBadRequest, "invalid_request", aadUnsupportedGrant,
			"The emulator does not serve interactive sign-in; use the device code flow or an application credential."})
	default:
		http.NotFound(w, r)
	}
}

func tenantNotFound(t string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", t)
}

func (s *Server) writeOpenIDConfiguration(w http.ResponseWriter) {
	base := s.origin + "/" + s.tenant.ID
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.origin + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	}, "application/json; charset=utf-8")
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenantSeg, correlation string) {
	audience, credential, err := s.issue(w, r, tenantSeg)
	if err != nil {
		s.countToken("", "", false)
		s.writeEntraError(w, correlation, err)
		return
	}
	s.countToken(audience, credential, true)
}

// missingParameter is Entra's answer to a request without a required form parameter.
func missingParameter(p string) *entraError {
	return &entraError{http.StatusBadRequest, "invalid_request", aadMissingParameter, fmt.Sprintf("The request body must contain the following parameter: '%s'.", p)}
}

// issue checks a token request and writes the token; on refusal it writes nothing. It returns the token's
// audience and how the client proved itself (see Stats.Credentials).
func (s *Server) issue(w http.ResponseWriter, r *http.Request, tenantSeg string) (string, string, *entraError) {
	if r.Method != http.MethodPost {
		return "", "", &entraError{http.StatusBadRequest, "invalid_request", aadPostOnly, "The endpoint only accepts POST requests. Received a " + r.Method + " request."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBodySize)
	if err := r.ParseForm(); err != nil {
		return "", "", missingParameter("grant_type")
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return "", "", missingParameter("grant_type")
	case "client_credentials":
	case grantDeviceCode, "device_code": // RFC 8628's name, and the short one MSAL Go sends; Entra takes both
		return s.redeemDeviceCode(w, form)
	case "refresh_token":
		return s.redeemRefreshToken(w, form)
	default:
		return "", "", &entraError{http.StatusBadRequest, "unsupported_grant_type", aadUnsupportedGrant,
			fmt.Sprintf("The app requested an unsupported grant type '%s'. The emulator supports 'client_credentials', '%s' and 'refresh_token'.", grant, grantDeviceCode)}
	}
	cc, err := s.formClient(form)
	if err != nil {
		return "", "", err
	}
	resource, scopeErr := s.resourceFromScope(form.Get("scope"))
	if scopeErr != nil {
		return "", "", scopeErr
	}
	appIDAcr, credential := "1", "client_secret"
	switch {
	case form.Has("client_secret"):
		if cc.secret == "" || subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(cc.secret)) != 1 {
			return "", "", &entraError{http.StatusUnauthorized, "invalid_client", aadInvalidSecret,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", cc.client.ClientID)}
		}
	case form.Has("client_assertion") || form.Has("client_assertion_type"):
		if form.Get("client_assertion_type") != clientAssertionTypeJWT {
			return "", "", &entraError{http.StatusBadRequest, "invalid_request", aadMalformedJWT,
				fmt.Sprintf("client_assertion_type must be '%s'.", clientAssertionTypeJWT)}
		}
		assertion := form.Get("client_assertion")
		if assertion == "" {
			return "", "", missingParameter("client_assertion")
		}
		tokenEndpoints := []string{
			s.origin + "/" + s.tenant.ID + "/oauth2/v2.0/token",
			s.origin + "/" + tenantSeg + "/oauth2/v2.0/token",
		}
		// Clients sign assertions with the real clock, whatever clock the fixture runs on.
		if err := cc.verifyAssertion(assertion, tokenEndpoints, time.Now()); err != nil {
			return "", "", err
		}
		appIDAcr, credential = "2", assertionKind(assertion, cc.client.ClientID)
	default:
		return "", "", &entraError{http.StatusUnauthorized, "invalid_client", aadNoCredential,
			"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."}
	}

	now := s.opts.Now()
	token := s.mintToken(cc.client.ClientID, resource, appIDAcr, now, now.Add(s.opts.TokenLifetime))
	secs := int(s.opts.TokenLifetime / time.Second)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token,
	}, "application/json; charset=utf-8")
	return resource, credential, nil
}

// formClient finds the app registration a token request names in client_id.
func (s *Server) formClient(form url.Values) (*clientCreds, *entraError) {
	clientID := strings.ToLower(form.Get("client_id"))
	if clientID == "" {
		return nil, missingParameter("client_id")
	}
	cc := s.clients[clientID]
	if cc == nil {
		return nil, &entraError{http.StatusBadRequest, "unauthorized_client", aadAppNotFound,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", form.Get("client_id"), s.tenant.Name)}
	}
	return cc, nil
}

// assertionKind names a verified client assertion for Stats.Credentials: "certificate" when the client signed
// it, "federated <issuer> <subject>" for workload identity federation.
func assertionKind(assertion, clientID string) string {
	t, err := parseJWT(assertion)
	if err != nil || strings.EqualFold(t.str("iss"), clientID) {
		return "certificate"
	}
	return "federated " + t.str("iss") + " " + t.str("sub")
}

// resourceFromScope keeps the one "<resource>/.default" scope MSAL sends next to openid, offline_access, profile.
func (s *Server) resourceFromScope(scope string) (string, *entraError) {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		resources = append(resources, sc)
	}
	switch {
	case len(resources) == 0:
		return "", &entraError{http.StatusBadRequest, "invalid_request", aadMissingParameter, "The request body must contain the following parameter: 'scope'."}
	case len(resources) > 1:
		return "", &entraError{http.StatusBadRequest, "invalid_scope", aadScopeManyResources,
			fmt.Sprintf("Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", strings.Join(resources, " "))}
	case !strings.HasSuffix(resources[0], "/.default"):
		return "", &entraError{http.StatusBadRequest, "invalid_scope", aadScopeNotDefault,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", resources[0])}
	}
	resource := strings.TrimSuffix(strings.TrimSuffix(resources[0], "/.default"), "/")
	if !s.knownResource(resource) {
		return "", &entraError{http.StatusBadRequest, "invalid_resource", aadResourceNotFound,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, s.tenant.Name)}
	}
	return resource, nil
}

// knownResource accepts the BAP audiences and each organization's origin, the resource a client derives
// from the scheme and host of an instance URL.
func (s *Server) knownResource(resource string) bool {
	switch strings.ToLower(resource) {
	case bapAudience, bapAltAudience:
		return true
	}
	return s.orgs[strings.ToLower(resource)] != nil
}

func (s *Server) writeEntraError(w http.ResponseWriter, correlation string, e *entraError) {
	trace := s.nextTraceID()
	now := s.opts.Now().UTC()
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		e.aadsts, e.message, trace, correlation, now.Format("2006-01-02 15:04:05Z"))
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-request-id", trace)
	w.Header().Set("client-request-id", correlation)
	writeJSON(w, e.status, map[string]any{
		"error":             e.code,
		"error_description": desc,
		"error_codes":       []int{e.aadsts},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    correlation,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.aadsts),
	}, "application/json; charset=utf-8")
}

func writeJSON(w http.ResponseWriter, status int, v any, contentType string) {
	body, err := marshalJSON(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// accessClaims are the claims of an emulator access token that the APIs check.
type accessClaims struct {
	Aud   string `json:"aud"`
	Iss   string `json:"iss"`
	Tid   string `json:"tid"`
	AppID string `json:"appid"`
	OID   string `json:"oid"`
	Exp   int64  `json:"exp"`
	Nbf   int64  `json:"nbf"`
}

// mintToken issues a v1.0-style application token, HMAC-signed with the server's key.
func (s *Server) mintToken(clientID, audience, appIDAcr string, issued, expires time.Time) string {
	oid := s.objectID(clientID)
	return s.signToken(map[string]any{
		"aud": audience, "iss": "https://sts.windows.net/" + s.tenant.ID + "/",
		"iat": issued.Unix(), "nbf": issued.Unix(), "exp": expires.Unix(),
		"appid": strings.ToLower(clientID), "appidacr": appIDAcr, "idp": "https://sts.windows.net/" + s.tenant.ID + "/",
		"idtyp": "app", "oid": oid, "sub": oid, "tid": s.tenant.ID, "ver": "1.0",
		"uti": deterministicID(s.tenant.ID, "uti", fmt.Sprint(issued.UnixNano()), clientID, audience)[:22],
	})
}

// signToken encodes claims as a JWT signed HS256 with the server's key.
func (s *Server) signToken(claims map[string]any) string {
	header := map[string]any{"typ": "JWT", "alg": "HS256", "kid": "emulator"}
	h, _ := marshalJSON(header)
	c, _ := marshalJSON(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// MintToken issues an access token without the token endpoint, for tests that need an expired token or one
// for another audience; it is not counted in Stats.
func (s *Server) MintToken(clientID, audience string, expires time.Time) string {
	now := s.opts.Now()
	issued := now
	if expires.Before(now) {
		issued = expires.Add(-time.Hour)
	}
	return s.mintToken(clientID, strings.TrimSuffix(audience, "/"), "1", issued, expires)
}

// tokenFailure says why a bearer token was refused.
type tokenFailure int

const (
	tokenOK tokenFailure = iota
	tokenMissing
	tokenInvalid
	tokenExpired
	tokenWrongAudience
)

// checkBearer verifies the request's bearer token against the accepted audiences.
func (s *Server) checkBearer(r *http.Request, audiences ...string) (*accessClaims, tokenFailure) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, tokenMissing
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, tokenInvalid
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, tokenInvalid
	}
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, tokenInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, tokenInvalid
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || !strings.EqualFold(c.Tid, s.tenant.ID) {
		return nil, tokenInvalid
	}
	now := s.opts.Now()
	if now.Unix() >= c.Exp {
		return &c, tokenExpired
	}
	if now.Add(clockSkew).Unix() < c.Nbf {
		return &c, tokenInvalid
	}
	for _, a := range audiences {
		if strings.EqualFold(c.Aud, a) {
			return &c, tokenOK
		}
	}
	return &c, tokenWrongAudience
}
