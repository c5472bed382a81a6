package emulator

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// clientCreds are a client's parsed credentials.
type clientCreds struct {
	client    Client
	secret    string
	certs     []*x509.Certificate
	federated []federatedTrust
	adminApp  bool
}

type federatedTrust struct {
	issuer  string
	subject string
	key     *rsa.PublicKey
}

func newClientCreds(c Client) (*clientCreds, error) {
	cc := &clientCreds{client: c, secret: c.Secret, adminApp: c.AdminManagementApp == nil || *c.AdminManagementApp}
	if cc.secret == "" && c.SecretEnv != "" {
		cc.secret = os.Getenv(c.SecretEnv)
	}
	pems := c.CertificatePEMs
	if len(pems) == 0 {
		for _, p := range c.Certificates {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read certificate: %w", err)
			}
			pems = append(pems, data)
		}
	}
	for _, data := range pems {
		certs, err := parseCertificates(data)
		if err != nil {
			return nil, err
		}
		cc.certs = append(cc.certs, certs...)
	}
	for _, fi := range c.FederatedIssuers {
		data := fi.KeyPEM
		if len(data) == 0 {
			var err error
			if data, err = os.ReadFile(fi.Key); err != nil {
				return nil, fmt.Errorf("read federated issuer key: %w", err)
			}
		}
		key, err := parseRSAPublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("federated issuer %s: %w", fi.Issuer, err)
		}
		cc.federated = append(cc.federated, federatedTrust{issuer: fi.Issuer, subject: fi.Subject, key: key})
	}
	return cc, nil
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("parse certificate: no PEM CERTIFICATE block")
	}
	return out, nil
}

// parseRSAPublicKey reads a PEM public key (PKIX or PKCS#1) or the key of a PEM certificate.
func parseRSAPublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("public key is not RSA")
	}
	return key, nil
}

// jwt is a decoded compact JWS, unverified.
type jwt struct {
	header       map[string]any
	claims       map[string]any
	signingInput string
	signature    []byte
}

func parseJWT(s string) (*jwt, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	decode := func(p string, v any) error {
		b, err := decodeBase64URL(p)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		return dec.Decode(v)
	}
	t := &jwt{signingInput: parts[0] + "." + parts[1]}
	if err := decode(parts[0], &t.header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := decode(parts[1], &t.claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	var err error
	if t.signature, err = decodeBase64URL(parts[2]); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return t, nil
}

func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// decodeThumbprint reads an x5t value; MSAL sends standard base64 where RFC 7515 says base64url, so both pass.
func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

func (t *jwt) str(name string) string {
	switch v := t.claims[name].(type) {
	case string:
		return v
	case []any:
		if len(v) == 1 {
			if s, ok := v[0].(string); ok {
				return s
			}
		}
	}
	return ""
}

func (t *jwt) num(name string) (int64, bool) {
	n, ok := t.claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil {
			return 0, false
		}
		i = int64(f)
	}
	return i, true
}

func (t *jwt) headerStr(name string) string {
	s, _ := t.header[name].(string)
	return s
}

// verifySignature checks an RS256 or PS256 signature with an RSA key.
func (t *jwt) verifySignature(key *rsa.PublicKey) error {
	digest := sha256.Sum256([]byte(t.signingInput))
	switch t.headerStr("alg") {
	case "RS256":
		return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], t.signature)
	case "PS256":
		return rsa.VerifyPSS(key, crypto.SHA256, digest[:], t.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	}
	return fmt.Errorf("unsupported alg %q", t.headerStr("alg"))
}

func assertionError(aadsts int, msg string) *entraError {
	return &entraError{http.StatusUnauthorized, "invalid_client", aadsts, msg}
}

// checkTimes applies Entra's validity window, with its clock skew allowance.
func (t *jwt) checkTimes(now time.Time) *entraError {
	exp, ok := t.num("exp")
	if !ok {
		return assertionError(aadAssertionTime, "Client assertion contains no expiry time ('exp' claim).")
	}
	nbf, hasNbf := t.num("nbf")
	if now.Add(-clockSkew).Unix() >= exp || (hasNbf && now.Add(clockSkew).Unix() < nbf) {
		return assertionError(aadAssertionTime, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(nbf, 0).UTC().Format(time.RFC3339), time.Unix(exp, 0).UTC().Format(time.RFC3339)))
	}
	return nil
}

// verifyAssertion accepts a certificate assertion (iss = sub = client ID, aud = token endpoint) or a federated
// one (iss/sub of a registered trust, aud = api://AzureADTokenExchange).
func (cc *clientCreds) verifyAssertion(assertion string, tokenEndpoints []string, now time.Time) *entraError {
	t, err := parseJWT(assertion)
	if err != nil {
		return &entraError{http.StatusBadRequest, "invalid_request", aadMalformedJWT, "JWT token is invalid or malformed."}
	}
	clientID := cc.client.ClientID
	if strings.EqualFold(t.str("iss"), clientID) {
		return cc.verifyCertificateAssertion(t, tokenEndpoints, now)
	}
	return cc.verifyFederatedAssertion(t, now)
}

func (cc *clientCreds) verifyCertificateAssertion(t *jwt, tokenEndpoints []string, now time.Time) *entraError {
	clientID := cc.client.ClientID
	if !strings.EqualFold(t.str("sub"), clientID) {
		return assertionError(aadAssertionIDMismatch, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	audOK := false
	for _, ep := range tokenEndpoints {
		audOK = audOK || strings.EqualFold(t.str("aud"), ep)
	}
	if !audOK {
		return assertionError(aadBadAssertion, fmt.Sprintf("Client assertion audience '%s' is not this tenant's token endpoint '%s'.", t.str("aud"), tokenEndpoints[0]))
	}
	if err := t.checkTimes(now); err != nil {
		return err
	}
	var thumb []byte
	var hash func([]byte) []byte
	if v := t.headerStr("x5t#S256"); v != "" {
		thumb, hash = decodeThumbprint(v), func(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
	} else if v := t.headerStr("x5t"); v != "" {
		thumb, hash = decodeThumbprint(v), func(b []byte) []byte { h := sha1.Sum(b); return h[:] }
	}
	var cert *x509.Certificate
	for _, c := range cc.certs {
		if thumb != nil && bytes.Equal(hash(c.Raw), thumb) {
			cert = c
		}
	}
	if cert != nil {
		// An x5c chain does not add trust: its leaf must still be a registered certificate.
		if chain, ok := t.header["x5c"].([]any); ok && len(chain) > 0 {
			leaf, _ := chain[0].(string)
			der, err := base64.StdEncoding.DecodeString(leaf)
			if err != nil || !bytes.Equal(der, cert.Raw) {
				cert = nil
			}
		}
	}
	if cert == nil {
		return assertionError(aadBadAssertion, fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]",
			strings.ToUpper(hex.EncodeToString(thumb)), clientID))
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return assertionError(aadBadAssertion, "Client assertion failed signature validation: the registered certificate does not hold an RSA key.")
	}
	if err := t.verifySignature(key); err != nil {
		return assertionError(aadBadAssertion, "Client assertion failed signature validation.")
	}
	return nil
}

func (cc *clientCreds) verifyFederatedAssertion(t *jwt, now time.Time) *entraError {
	iss, sub := t.str("iss"), t.str("sub")
	var byIssuer []federatedTrust
	for _, f := range cc.federated {
		if f.issuer == iss {
			byIssuer = append(byIssuer, f)
		}
	}
	if len(byIssuer) == 0 {
		return assertionError(aadFedIssuerNotFound, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", iss))
	}
	var trust *federatedTrust
	for i := range byIssuer {
		if byIssuer[i].subject == sub {
			trust = &byIssuer[i]
		}
	}
	if trust == nil {
		return assertionError(aadFedSubjectNotFound, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", sub))
	}
	if t.str("aud") != federatedTokenAudience {
		return assertionError(aadFedAudienceNotFound, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", t.str("aud")))
	}
	if err := t.checkTimes(now); err != nil {
		return err
	}
	if t.headerStr("alg") != "RS256" {
		return assertionError(aadBadAssertion, fmt.Sprintf("Client assertion failed signature validation: alg '%s' is not RS256.", t.headerStr("alg")))
	}
	if err := t.verifySignature(trust.key); err != nil {
		return assertionError(aadBadAssertion, "Client assertion failed signature validation.")
	}
	return nil
}
