package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// DefaultValidity is the lifetime of an issued certificate when
// IssueRequest.Validity is zero.
const DefaultValidity = 365 * 24 * time.Hour

// IssueRequest describes a leaf certificate to issue.
type IssueRequest struct {
	// CommonName identifies the holder; for client certificates it is the
	// identity the server sees. Required.
	CommonName string
	// DNSNames and IPs are the subject alternative names a server
	// certificate is valid for. DNS names may be wildcards ("*.apps.example").
	// A server certificate needs at least one.
	DNSNames []string
	IPs      []net.IP
	// Server and Client select the extended key usages. At least one must
	// be set; a daemon that both serves and calls other daemons sets both.
	Server, Client bool
	// Validity is the lifetime from now. Zero means DefaultValidity. It is
	// cut short so that the certificate never outlives the CA.
	Validity time.Duration
}

// Cert is an issued certificate and its private key, both PEM-encoded.
type Cert struct {
	CertPEM []byte
	KeyPEM  []byte
}

// Issue creates a fresh P-256 key and a certificate for it signed by ca.
func (ca *CA) Issue(req IssueRequest) (*Cert, error) {
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("issue %q: %w", req.CommonName, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue %q: generate key: %w", req.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("issue %q: %w", req.CommonName, err)
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	var usages []x509.ExtKeyUsage
	if req.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		DNSNames:              slices.Clone(req.DNSNames),
		IPAddresses:           slices.Clone(req.IPs),
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue %q: create certificate: %w", req.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("issue %q: %w", req.CommonName, err)
	}
	return &Cert{CertPEM: encodeCert(der), KeyPEM: keyPEM}, nil
}

func (r IssueRequest) validate() error {
	var errs []error
	if r.CommonName == "" {
		errs = append(errs, errors.New("empty common name"))
	}
	if !r.Server && !r.Client {
		errs = append(errs, errors.New("neither server nor client usage requested"))
	}
	if r.Server && len(r.DNSNames) == 0 && len(r.IPs) == 0 {
		errs = append(errs, errors.New("server certificate needs at least one DNS name or IP"))
	}
	if r.Validity < 0 {
		errs = append(errs, fmt.Errorf("validity %v is negative", r.Validity))
	}
	return errors.Join(errs...)
}

// TLSCertificate returns the certificate and key as a tls.Certificate, with
// Leaf populated.
func (c *Cert) TLSCertificate() (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls certificate: %w", err)
	}
	return cert, nil
}
