// Package pki is a small certificate authority for Anvil's dev and test
// platforms.
//
// `anvil dev up` creates one CA per state directory and issues every daemon a
// server and client certificate from it, so daemon-to-daemon traffic uses
// mutual TLS even on a laptop. Tests create a CA in memory with NewCA and
// never touch the disk. Production deployments get their certificates from
// BOSH/CredHub instead and only use ServerTLS and ClientTLS from this package.
//
// All keys are ECDSA P-256. Private keys are encoded as PKCS #8 ("PRIVATE
// KEY") PEM blocks and written to disk with mode 0600.
//
// Usage:
//
//	ca, err := pki.NewCA("anvil dev CA", 10*365*24*time.Hour)
//	srv, err := ca.Issue(pki.IssueRequest{
//		CommonName: "bbs",
//		DNSNames:   []string{"bbs.service.internal"},
//		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
//		Server:     true,
//		Client:     true,
//	})
//	cert, err := srv.TLSCertificate()
//	cfg := pki.ServerTLS(cert, ca.Pool(), true)
//
// A CA and the certificates it issues are immutable after creation and safe
// for concurrent use.
package pki
