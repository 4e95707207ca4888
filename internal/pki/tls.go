package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerTLS returns a server configuration presenting cert (TLS 1.2 or
// newer).
//
// If requireClientCert is true the server demands a client certificate
// signed by a CA in caPool (mutual TLS). Otherwise a client certificate is
// optional but verified against caPool when presented; with a nil caPool
// none is requested.
func ServerTLS(cert tls.Certificate, caPool *x509.CertPool, requireClientCert bool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    caPool,
	}
	switch {
	case requireClientCert:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case caPool != nil:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg
}

// ClientTLS returns a client configuration (TLS 1.2 or newer) that trusts
// only caPool and expects the server's certificate to be valid for
// serverName. An empty serverName leaves the choice to the caller (Go's
// HTTP and gRPC clients use the host of the address dialled). cert is
// presented to the server; a zero tls.Certificate means no client
// certificate.
func ClientTLS(cert tls.Certificate, caPool *x509.CertPool, serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    caPool,
		ServerName: serverName,
	}
	if len(cert.Certificate) > 0 {
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// PoolFromPEM returns a pool of every certificate in the PEM data. It fails
// if the data holds none.
func PoolFromPEM(data []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		return nil, errors.New("ca pool: no certificates in PEM data")
	}
	return p, nil
}

// LoadPool reads a PEM file of CA certificates into a pool.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load ca pool: %w", err)
	}
	p, err := PoolFromPEM(data)
	if err != nil {
		return nil, fmt.Errorf("load ca pool %s: %w", path, err)
	}
	return p, nil
}
