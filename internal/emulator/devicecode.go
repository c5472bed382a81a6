package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	grantDeviceCode    = "urn:ietf:params:oauth:grant-type:device_code"
	deviceLoginPath    = "/devicelogin"
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 5 // seconds, as Entra answers

	aadAuthorizationPending = 70016
	aadDeviceCodeExpired    = 70019
	aadInvalidGrant         = 70000
	aadPublicClientOnly     = 7000218
)

// signInState holds the device codes handed out and the refresh tokens issued to public clients.
type signInState struct {
	mu      sync.Mutex
	codes   map[string]*deviceCode // by device_code
	refresh map[string]string      // refresh token → client ID
}

type deviceCode struct {
	clientID string
	expires  time.Time
	polls    int
	redeemed bool
}

func newSignInState() *signInState {
	return &signInState{codes: map[string]*deviceCode{}, refresh: map[string]string{}}
}

// signedInUser is the administrator the emulator signs in with every approved device code.
type signedInUser struct {
	username, name, oid string
}

func (s *Server) admin() signedInUser {
	username := "admin@" + s.tenant.Domain
	return signedInUser{username: username, name: "Emulated Administrator", oid: deterministicID(s.tenant.ID, "user", username)}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: random: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// userCode is eight characters from an alphabet without look-alikes, as the codes Entra shows.
func userCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: random: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// serveDeviceCode answers POST /{tenant}/oauth2/v2.0/devicecode (client_id, scope) as Entra does.
func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request, correlation string) {
	fail := func(e *entraError) { s.writeEntraError(w, correlation, e) }
	if r.Method != http.MethodPost {
		fail(&entraError{http.StatusBadRequest, "invalid_request", aadPostOnly, "The endpoint only accepts POST requests. Received a " + r.Method + " request."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBodySize)
	if err := r.ParseForm(); err != nil {
		fail(missingParameter("client_id"))
		return
	}
	cc, err := s.formClient(r.PostForm)
	if err != nil {
		fail(err)
		return
	}
	if _, _, err := s.delegatedResource(r.PostForm.Get("scope")); err != nil {
		fail(err)
		return
	}
	code, user := randomToken(48), userCode()
	s.signIns.mu.Lock()
	s.signIns.codes[code] = &deviceCode{clientID: cc.client.ClientID, expires: s.opts.Now().Add(deviceCodeLifetime)}
	s.signIns.mu.Unlock()
	verification := s.origin + deviceLoginPath
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code": user, "device_code": code, "verification_uri": verification,
		"expires_in": int(deviceCodeLifetime / time.Second), "interval": deviceCodeInterval,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verification, user),
	}, "application/json; charset=utf-8")
}

// serveDeviceLogin is the verification page the sign-in message points to; the emulator approves codes by itself.
func (s *Server) serveDeviceLogin(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Device sign-in</title><p>This is the %s tenant emulator: it approves device codes by itself after %d polls, signed in as %s. There is nothing to enter here.</p>\n",
		html.EscapeString(s.tenant.Name), max(s.opts.DeviceCodePolls, 0), html.EscapeString(s.admin().username))
}

// delegatedResource reads the one resource scope of a user sign-in, "<resource>/.default" or
// "<resource>/user_impersonation", next to MSAL's openid, offline_access and profile. It returns the resource
// and the resource scope as requested.
func (s *Server) delegatedResource(scope string) (resource, requested string, err *entraError) {
	fields := strings.Fields(scope)
	for i, sc := range fields {
		if r, ok := strings.CutSuffix(sc, "/user_impersonation"); ok {
			fields[i] = r + "/.default"
		}
		if strings.HasSuffix(fields[i], "/.default") {
			requested = sc
		}
	}
	if resource, err = s.resourceFromScope(strings.Join(fields, " ")); err != nil {
		return "", "", err
	}
	return resource, requested, nil
}

// redeemDeviceCode answers the device code grant: authorization_pending until the code is approved (after
// Options.DeviceCodePolls polls), then the signed-in administrator's tokens.
func (s *Server) redeemDeviceCode(w http.ResponseWriter, form url.Values) (string, string, *entraError) {
	cc, err := s.formClient(form)
	if err != nil {
		return "", "", err
	}
	code := form.Get("device_code")
	if code == "" {
		return "", "", missingParameter("device_code")
	}
	if !cc.client.PublicClient {
		return "", "", notPublic()
	}
	invalid := &entraError{http.StatusBadRequest, "invalid_grant", aadInvalidGrant, "Provided grant is invalid or malformed."}
	s.signIns.mu.Lock()
	dc := s.signIns.codes[code]
	switch {
	case dc == nil || dc.redeemed || !strings.EqualFold(dc.clientID, cc.client.ClientID):
		s.signIns.mu.Unlock()
		return "", "", invalid
	case !s.opts.Now().Before(dc.expires):
		s.signIns.mu.Unlock()
		return "", "", &entraError{http.StatusBadRequest, "expired_token", aadDeviceCodeExpired, "The device code has expired: start the sign-in again."}
	case s.opts.DeviceCodePolls < 0 || dc.polls < s.opts.DeviceCodePolls:
		dc.polls++
		s.signIns.mu.Unlock()
		return "", "", &entraError{http.StatusBadRequest, "authorization_pending", aadAuthorizationPending,
			"The provided request has not yet been authorized by the user; the user must enter the code."}
	}
	dc.redeemed = true
	s.signIns.mu.Unlock()
	return s.issueUserTokens(w, cc, form.Get("scope"), "device_code")
}

// redeemRefreshToken answers the refresh token grant of a public client, for another resource or a new token.
func (s *Server) redeemRefreshToken(w http.ResponseWriter, form url.Values) (string, string, *entraError) {
	cc, err := s.formClient(form)
	if err != nil {
		return "", "", err
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return "", "", missingParameter("refresh_token")
	}
	s.signIns.mu.Lock()
	owner, ok := s.signIns.refresh[rt]
	s.signIns.mu.Unlock()
	if !ok || !strings.EqualFold(owner, cc.client.ClientID) {
		return "", "", &entraError{http.StatusBadRequest, "invalid_grant", aadInvalidGrant, "Provided grant is invalid or malformed."}
	}
	return s.issueUserTokens(w, cc, form.Get("scope"), "refresh_token")
}

// notPublic is Entra's answer to a client without "Allow public client flows" that sends no credential.
func notPublic() *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", aadPublicClientOnly,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

// issueUserTokens writes the tokens of the signed-in administrator for a public client: an access token, a new
// refresh token (the old one stays valid, as Entra's do for a while), an ID token and client_info.
func (s *Server) issueUserTokens(w http.ResponseWriter, cc *clientCreds, scope, credential string) (string, string, *entraError) {
	if !cc.client.PublicClient {
		return "", "", notPublic()
	}
	resource, requested, err := s.delegatedResource(scope)
	if err != nil {
		return "", "", err
	}
	user := s.admin()
	now := s.opts.Now()
	expires := now.Add(s.opts.TokenLifetime)
	iss := "https://sts.windows.net/" + s.tenant.ID + "/"
	clientID := strings.ToLower(cc.client.ClientID)
	access := s.signToken(map[string]any{
		"aud": resource, "iss": iss, "iat": now.Unix(), "nbf": now.Unix(), "exp": expires.Unix(),
		"appid": clientID, "appidacr": "0", "idp": iss, "idtyp": "user", "oid": user.oid, "sub": user.oid,
		"tid": s.tenant.ID, "upn": user.username, "unique_name": user.username, "name": user.name,
		"scp": "user_impersonation", "ver": "1.0",
		"uti": deterministicID(s.tenant.ID, "uti", fmt.Sprint(now.UnixNano()), clientID, resource, credential)[:22],
	})
	idToken := s.signToken(map[string]any{
		"aud": clientID, "iss": s.origin + "/" + s.tenant.ID + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "sub": user.oid, "oid": user.oid, "tid": s.tenant.ID,
		"preferred_username": user.username, "name": user.name, "ver": "2.0",
	})
	info, _ := marshalJSON(map[string]string{"uid": user.oid, "utid": s.tenant.ID})
	refresh := "0.A" + randomToken(64)
	s.signIns.mu.Lock()
	s.signIns.refresh[refresh] = cc.client.ClientID
	s.signIns.mu.Unlock()
	secs := int(s.opts.TokenLifetime / time.Second)
	base := strings.TrimSuffix(requested, "/.default")
	base = strings.TrimSuffix(base, "/user_impersonation")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "scope": base + "/user_impersonation " + base + "/.default",
		"expires_in": secs, "ext_expires_in": secs, "access_token": access, "refresh_token": refresh,
		"id_token": idToken, "client_info": base64.RawURLEncoding.EncodeToString(info),
	}, "application/json; charset=utf-8")
	return resource, credential, nil
}
