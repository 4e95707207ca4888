package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/pki"
)

// Certs are the files of a test CA and of one certificate it issued, valid
// as both server (localhost, 127.0.0.1) and client certificate.
type Certs struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// TLSCerts writes a fresh CA and a certificate with common name cn into a
// temporary directory, for tests that configure daemons' mutual TLS with
// files.
func TLSCerts(t testing.TB, cn string) Certs {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	caFiles, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cert, err := ca.Issue(pki.IssueRequest{
		CommonName: cn,
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Server:     true,
		Client:     true,
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	files, err := cert.WriteFiles(dir, cn)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return Certs{CAFile: caFiles.Cert, CertFile: files.Cert, KeyFile: files.Key}
}
