package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newCA(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, 24*time.Hour)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func issue(t *testing.T, ca *CA, req IssueRequest) tls.Certificate {
	t.Helper()
	c, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("Issue(%q): %v", req.CommonName, err)
	}
	cert, err := c.TLSCertificate()
	if err != nil {
		t.Fatalf("TLSCertificate: %v", err)
	}
	return cert
}

var localhost = []net.IP{net.IPv4(127, 0, 0, 1)}

func TestNewCAValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cn       string
		validity time.Duration
		wantErr  bool
	}{
		{"ok", "test CA", time.Hour, false},
		{"empty name", "", time.Hour, true},
		{"zero validity", "test CA", 0, true},
		{"negative validity", "test CA", -time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ca, err := NewCA(tt.cn, tt.validity)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewCA err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			c := ca.Certificate()
			if !c.IsCA || c.Subject.CommonName != tt.cn {
				t.Errorf("CA cert IsCA=%v CN=%q", c.IsCA, c.Subject.CommonName)
			}
			if c.PublicKeyAlgorithm != x509.ECDSA {
				t.Errorf("key algorithm = %v, want ECDSA", c.PublicKeyAlgorithm)
			}
		})
	}
}

func TestIssueValidation(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	tests := []struct {
		name    string
		req     IssueRequest
		wantErr string
	}{
		{"server ok", IssueRequest{CommonName: "s", IPs: localhost, Server: true}, ""},
		{"client ok without SANs", IssueRequest{CommonName: "c", Client: true}, ""},
		{"both", IssueRequest{CommonName: "b", DNSNames: []string{"b.internal"}, Server: true, Client: true}, ""},
		{"no common name", IssueRequest{Client: true}, "empty common name"},
		{"no usage", IssueRequest{CommonName: "x"}, "neither server nor client"},
		{"server without SANs", IssueRequest{CommonName: "s", Server: true}, "at least one DNS name or IP"},
		{"negative validity", IssueRequest{CommonName: "c", Client: true, Validity: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ca.Issue(tt.req)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Issue: unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Issue err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIssueNeverOutlivesCA(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("short CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := issue(t, ca, IssueRequest{CommonName: "c", Client: true}) // DefaultValidity is a year
	if cert.Leaf.NotAfter.After(ca.Certificate().NotAfter) {
		t.Errorf("leaf NotAfter %v is after CA NotAfter %v", cert.Leaf.NotAfter, ca.Certificate().NotAfter)
	}
}

func TestLoadCA(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	other := newCA(t, "other CA")
	otherKey, err := other.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(IssueRequest{CommonName: "leaf", Client: true})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		cert    []byte
		key     []byte
		wantErr string
	}{
		{"round trip", ca.CertPEM(), keyPEM, ""},
		{"mismatched key", ca.CertPEM(), otherKey, "does not match"},
		{"leaf is not a CA", leaf.CertPEM, leaf.KeyPEM, "not a CA"},
		{"garbage cert", []byte("nope"), keyPEM, "no CERTIFICATE block"},
		{"garbage key", ca.CertPEM(), []byte("nope"), "no private key block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loaded, err := LoadCA(tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadCA err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			// A certificate issued by the loaded CA verifies against the
			// original CA's pool.
			cert := issue(t, loaded, IssueRequest{CommonName: "c", Client: true})
			_, err = cert.Leaf.Verify(x509.VerifyOptions{
				Roots:     ca.Pool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			})
			if err != nil {
				t.Fatalf("verify cert from loaded CA: %v", err)
			}
		})
	}
}

// handshake runs a real TLS handshake over 127.0.0.1 and a one-byte exchange,
// so that a client certificate rejected by the server (which TLS 1.3 only
// reports after the client's handshake completes) surfaces on the client.
// It returns the server's view of the connection.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		_, err = tc.Write([]byte{'k'})
		done <- result{state: tc.ConnectionState(), err: err}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: clientCfg}
	clientErr := func() error {
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	}()
	srv := <-done
	return srv.state, errors.Join(srv.err, clientErr)
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	other := newCA(t, "other CA")
	serverCert := issue(t, ca, IssueRequest{CommonName: "server", DNSNames: []string{"server.internal"}, IPs: localhost, Server: true})
	clientCert := issue(t, ca, IssueRequest{CommonName: "client", Client: true})
	foreignClient := issue(t, other, IssueRequest{CommonName: "intruder", Client: true})
	serverOnly := issue(t, ca, IssueRequest{CommonName: "not-a-client", IPs: localhost, Server: true})

	tests := []struct {
		name       string
		client     *tls.Config
		requireCC  bool
		wantErr    bool
		wantPeerCN string
	}{
		{"mutual", ClientTLS(clientCert, ca.Pool(), "server.internal"), true, false, "client"},
		{"mutual by IP", ClientTLS(clientCert, ca.Pool(), "127.0.0.1"), true, false, "client"},
		{"no client cert", ClientTLS(tls.Certificate{}, ca.Pool(), "server.internal"), true, true, ""},
		{"no client cert, optional", ClientTLS(tls.Certificate{}, ca.Pool(), "server.internal"), false, false, ""},
		{"client cert from another CA", ClientTLS(foreignClient, ca.Pool(), "server.internal"), true, true, ""},
		// Go's client only offers a certificate issued by one of the CAs the
		// server names in its CertificateRequest, so the foreign certificate
		// is withheld and the connection proceeds unauthenticated.
		{"client cert from another CA, optional", ClientTLS(foreignClient, ca.Pool(), "server.internal"), false, false, ""},
		{"cert without client usage", ClientTLS(serverOnly, ca.Pool(), "server.internal"), true, true, ""},
		{"server not trusted", ClientTLS(clientCert, other.Pool(), "server.internal"), true, true, ""},
		{"wrong server name", ClientTLS(clientCert, ca.Pool(), "elsewhere.internal"), true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state, err := handshake(t, ServerTLS(serverCert, ca.Pool(), tt.requireCC), tt.client)
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var gotCN string
			if len(state.PeerCertificates) > 0 {
				gotCN = state.PeerCertificates[0].Subject.CommonName
			}
			if gotCN != tt.wantPeerCN {
				t.Errorf("server saw client CN %q, want %q", gotCN, tt.wantPeerCN)
			}
		})
	}
}

func TestWildcardServerCert(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	serverCert := issue(t, ca, IssueRequest{CommonName: "router", DNSNames: []string{"*.apps.example"}, Server: true})

	tests := []struct {
		serverName string
		wantErr    bool
	}{
		{"a.apps.example", false},
		{"my-app.apps.example", false},
		{"apps.example", true},
		{"a.b.apps.example", true},
		{"a.apps.example.evil", true},
	}
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			t.Parallel()
			_, err := handshake(t, ServerTLS(serverCert, nil, false), ClientTLS(tls.Certificate{}, ca.Pool(), tt.serverName))
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake for %q: err = %v, wantErr %v", tt.serverName, err, tt.wantErr)
			}
		})
	}
}

func TestTLSConfigs(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test CA")
	cert := issue(t, ca, IssueRequest{CommonName: "x", IPs: localhost, Server: true, Client: true})

	tests := []struct {
		name    string
		cfg     *tls.Config
		auth    tls.ClientAuthType
		nCerts  int
		minVers uint16
	}{
		{"server mutual", ServerTLS(cert, ca.Pool(), true), tls.RequireAndVerifyClientCert, 1, tls.VersionTLS12},
		{"server optional", ServerTLS(cert, ca.Pool(), false), tls.VerifyClientCertIfGiven, 1, tls.VersionTLS12},
		{"server one-way", ServerTLS(cert, nil, false), tls.NoClientCert, 1, tls.VersionTLS12},
		{"client with cert", ClientTLS(cert, ca.Pool(), "x"), tls.NoClientCert, 1, tls.VersionTLS12},
		{"client without cert", ClientTLS(tls.Certificate{}, ca.Pool(), "x"), tls.NoClientCert, 0, tls.VersionTLS12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.ClientAuth != tt.auth {
				t.Errorf("ClientAuth = %v, want %v", tt.cfg.ClientAuth, tt.auth)
			}
			if len(tt.cfg.Certificates) != tt.nCerts {
				t.Errorf("len(Certificates) = %d, want %d", len(tt.cfg.Certificates), tt.nCerts)
			}
			if tt.cfg.MinVersion != tt.minVers {
				t.Errorf("MinVersion = %x, want %x", tt.cfg.MinVersion, tt.minVers)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t, "test CA")

	// A stale, world-readable key file must end up 0600 after the write.
	stale := FilesIn(dir, "ca")
	if err := os.WriteFile(stale.Key, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	caFiles, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatalf("CA WriteFiles: %v", err)
	}
	if caFiles != stale {
		t.Errorf("WriteFiles paths = %+v, want %+v", caFiles, stale)
	}
	leaf, err := ca.Issue(IssueRequest{CommonName: "bbs", IPs: localhost, Server: true, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	leafFiles, err := leaf.WriteFiles(dir, "bbs")
	if err != nil {
		t.Fatalf("Cert WriteFiles: %v", err)
	}

	for _, f := range []Files{caFiles, leafFiles} {
		for path, want := range map[string]os.FileMode{f.Cert: 0o644, f.Key: 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode = %v, want %v", filepath.Base(path), got, want)
			}
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	loadedCA, err := LoadCAFiles(caFiles)
	if err != nil {
		t.Fatalf("LoadCAFiles: %v", err)
	}
	loadedLeaf, err := LoadCertFiles(leafFiles)
	if err != nil {
		t.Fatalf("LoadCertFiles: %v", err)
	}
	cert, err := loadedLeaf.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: loadedCA.Pool()}); err != nil {
		t.Errorf("loaded leaf does not verify against loaded CA: %v", err)
	}
	pool, err := LoadPool(caFiles.Cert)
	if err != nil {
		t.Fatalf("LoadPool: %v", err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("loaded leaf does not verify against LoadPool: %v", err)
	}

	if _, err := LoadCAFiles(FilesIn(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCAFiles(missing) err = %v, want ErrNotExist", err)
	}
	if _, err := PoolFromPEM([]byte("not pem")); err == nil {
		t.Error("PoolFromPEM(garbage) succeeded")
	}
}
