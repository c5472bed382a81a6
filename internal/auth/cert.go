package auth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"software.sslmate.com/src/go-pkcs12"
)

// LoadCertificate reads a client certificate and its private key from a PEM file (certificate and key blocks)
// or a PFX/PKCS#12 file, with an optional password.
func LoadCertificate(path, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read client certificate: %w", err)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		if bytes.Contains(data, []byte("ENCRYPTED PRIVATE KEY")) {
			return nil, nil, fmt.Errorf("client certificate %s: the PEM key is encrypted with PKCS#8; convert it to PFX (openssl pkcs12 -export) or decrypt it", path)
		}
		certs, key, err := confidential.CertFromPEM(data, password)
		if err != nil {
			return nil, nil, fmt.Errorf("client certificate %s: %w", path, err)
		}
		return certs, key, nil
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, fmt.Errorf("client certificate %s: wrong PFX password (set client_certificate_password_env)", path)
		}
		return nil, nil, fmt.Errorf("client certificate %s: not a PEM or PFX file: %w", path, err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}
