package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

const (
	managedIdentityPath       = "/msi/token"
	appServiceIdentityVersion = "2019-08-01"
)

// ManagedIdentityEndpoint is the App Service–style managed identity endpoint, the value of IDENTITY_ENDPOINT.
func (s *Server) ManagedIdentityEndpoint() string { return s.origin + managedIdentityPath }

// ManagedIdentityHeader is the secret the endpoint expects in X-IDENTITY-HEADER, the value of IDENTITY_HEADER.
func (s *Server) ManagedIdentityHeader() string { return s.identityHeader }

func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// identityError is the App Service identity endpoint's error body.
func (s *Server) identityError(w http.ResponseWriter, status int, msg string) {
	s.countToken("", "", false)
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": s.nextTraceID()},
		"application/json; charset=utf-8")
}

// serveManagedIdentity answers GET /msi/token as App Service's identity endpoint (api-version 2019-08-01):
// the secret header, a resource, and optionally the client_id of a user-assigned identity.
func (s *Server) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.identityError(w, http.StatusMethodNotAllowed, fmt.Sprintf("The requested method '%s' is not allowed; use GET.", r.Method))
		return
	}
	got := r.Header.Get("X-IDENTITY-HEADER")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.identityHeader)) != 1 {
		s.identityError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != appServiceIdentityVersion {
		s.identityError(w, http.StatusBadRequest, fmt.Sprintf("The api-version '%s' is not supported; use '%s'.", v, appServiceIdentityVersion))
		return
	}
	resource := strings.TrimSuffix(strings.TrimSuffix(q.Get("resource"), "/.default"), "/")
	if resource == "" {
		s.identityError(w, http.StatusBadRequest, "The resource query parameter is required.")
		return
	}
	for _, p := range []string{"principal_id", "object_id", "mi_res_id", "msi_res_id"} {
		if q.Has(p) {
			s.identityError(w, http.StatusBadRequest, fmt.Sprintf("The emulator selects a user-assigned identity by client_id only, not by %s.", p))
			return
		}
	}
	clientID := strings.ToLower(q.Get("client_id"))
	if clientID == "" {
		clientID = s.systemIdentity
	}
	cc := s.clients[clientID]
	if cc == nil || !cc.client.ManagedIdentity {
		s.identityError(w, http.StatusBadRequest, "Unable to load the proper Managed Identity.")
		return
	}
	if !s.knownResource(resource) {
		s.identityError(w, http.StatusBadRequest, fmt.Sprintf("AADSTS%d: The resource principal named %s was not found in the tenant named %s.", aadResourceNotFound, resource, s.tenant.Name))
		return
	}
	now := s.opts.Now()
	expires := now.Add(s.opts.TokenLifetime)
	token := s.mintToken(cc.client.ClientID, resource, "2", now, expires)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "expires_on": fmt.Sprint(expires.Unix()), "resource": resource,
		"token_type": "Bearer", "client_id": cc.client.ClientID,
	}, "application/json; charset=utf-8")
	s.countToken(resource, "managed_identity", true)
}
