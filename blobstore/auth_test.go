package blobstore_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/pki"
)

// signed returns a signed URL for method on an object.
func (f *fixture) signed(key apiblob.Key, method, bucket, objKey string, expires time.Time) string {
	p := apiblob.ObjectPath(bucket, objKey)
	return f.URL + p + "?" + apiblob.Sign(key, method, p, expires)
}

func TestSignedURLs(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.put(t, apiblob.BucketDroplets, "d1", []byte("droplet one"))
	f.put(t, apiblob.BucketDroplets, "d2", []byte("droplet two"))
	soon := time.Now().Add(10 * time.Minute)

	// GET with a URL the client minted.
	u, err := f.client.SignedURL(http.MethodGet, apiblob.BucketDroplets, "d1", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, nil, "GET", u, nil, nil); r.Status != 200 || string(r.Body) != "droplet one" {
		t.Fatalf("signed GET: %d %s", r.Status, r.Body)
	}
	if r := do(t, nil, "HEAD", u, nil, nil); r.Status != 200 {
		t.Errorf("HEAD with a GET URL: %d", r.Status)
	}
	if r := do(t, nil, "GET", u, nil, header{"Range": "bytes=0-6"}); r.Status != 206 || string(r.Body) != "droplet" {
		t.Errorf("ranged signed GET: %d %q", r.Status, r.Body)
	}
	// A cell uploads a droplet with a signed PUT.
	put := f.signed(signKey, "PUT", apiblob.BucketDroplets, "d3", soon)
	if r := do(t, nil, "PUT", put, strings.NewReader("staged"), nil); r.Status != 201 {
		t.Fatalf("signed PUT: %d %s", r.Status, r.Body)
	}
	if got := f.get(t, apiblob.BucketDroplets, "d3"); string(got) != "staged" {
		t.Errorf("content %q", got)
	}
	// Rotation: a URL signed with the older key still works.
	if r := do(t, nil, "GET", f.signed(oldKey, "GET", apiblob.BucketDroplets, "d1", soon), nil, nil); r.Status != 200 {
		t.Errorf("URL signed with the old key: %d %s", r.Status, r.Body)
	}

	tamper := func(raw, param, value string) string {
		pu, _ := url.Parse(raw)
		q := pu.Query()
		q.Set(param, value)
		pu.RawQuery = q.Encode()
		return pu.String()
	}
	good := f.signed(signKey, "GET", apiblob.BucketDroplets, "d1", soon)
	tests := []struct {
		name   string
		method string
		url    string
		status int
		code   string
		msg    string
	}{
		{"expired", "GET", f.signed(signKey, "GET", apiblob.BucketDroplets, "d1", time.Now().Add(-time.Second)), 403, apiblob.CodeForbidden, "expired"},
		{"expiry extended", "GET", tamper(good, "expires", "9999999999"), 403, apiblob.CodeForbidden, "does not match"},
		{"signature changed", "GET", tamper(good, "sig", strings.Repeat("A", 43)), 403, apiblob.CodeForbidden, "does not match"},
		{"other object", "GET", strings.Replace(good, "/d1?", "/d2?", 1), 403, apiblob.CodeForbidden, "does not match"},
		{"other bucket", "GET", strings.Replace(good, "/droplets/", "/packages/", 1), 403, apiblob.CodeForbidden, "does not match"},
		{"wrong method PUT", "PUT", good, 403, apiblob.CodeForbidden, "allows GET, not PUT"},
		{"wrong method DELETE", "DELETE", good, 403, apiblob.CodeForbidden, "allows GET, not DELETE"},
		{"PUT URL used to GET", "GET", put, 403, apiblob.CodeForbidden, "allows PUT, not GET"},
		{"unknown key id", "GET", f.signed(apiblob.Key{ID: "rogue", Secret: []byte("rogue-secret-0123456789")}, "GET", apiblob.BucketDroplets, "d1", soon), 403, apiblob.CodeForbidden, "unknown key id"},
		{"wrong secret", "GET", f.signed(apiblob.Key{ID: signKey.ID, Secret: []byte("guessed-secret-0123456789")}, "GET", apiblob.BucketDroplets, "d1", soon), 403, apiblob.CodeForbidden, "does not match"},
		{"too long-lived", "GET", f.signed(signKey, "GET", apiblob.BucketDroplets, "d1", time.Now().Add(48*time.Hour)), 403, apiblob.CodeForbidden, "longest lifetime"},
		{"missing sig", "GET", strings.Split(good, "&sig=")[0], 403, apiblob.CodeForbidden, "missing"},
		{"signed list", "GET", f.URL + apiblob.ListPath(apiblob.BucketDroplets) + "?" + apiblob.Sign(signKey, "GET", apiblob.ListPath(apiblob.BucketDroplets), soon), 403, apiblob.CodeForbidden, "single objects"},
		{"signed match", "POST", f.URL + apiblob.MatchPath + "?" + apiblob.Sign(signKey, "POST", apiblob.MatchPath, soon), 403, apiblob.CodeForbidden, "single objects"},
		{"no credentials", "GET", f.objectURL(apiblob.BucketDroplets, "d1"), 401, apiblob.CodeUnauthorized, "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body *strings.Reader
			if tt.method == "PUT" || tt.method == "POST" {
				body = strings.NewReader(`{"resources":[]}`)
			}
			var r response
			if body != nil {
				r = do(t, nil, tt.method, tt.url, body, nil)
			} else {
				r = do(t, nil, tt.method, tt.url, nil, nil)
			}
			r.wantError(t, tt.status, tt.code, tt.msg)
		})
	}
	// Nothing a refused request tried was done.
	if got := f.get(t, apiblob.BucketDroplets, "d1"); string(got) != "droplet one" {
		t.Errorf("d1 changed: %q", got)
	}
}

func TestSharedSecret(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *blobstore.Config) {
		c.Auth.SharedSecrets = []string{"old-shared-secret-0123456789", sharedSecret}
	})
	u := f.URL + apiblob.ListPath(apiblob.BucketPackages)
	if r := do(t, nil, "GET", u, nil, header{apiblob.HeaderSecret: "old-shared-secret-0123456789"}); r.Status != 200 {
		t.Errorf("second secret: %d %s", r.Status, r.Body)
	}
	if r := do(t, nil, "GET", u, nil, header{"secret": ""}); r.Status != 200 {
		t.Errorf("first secret: %d %s", r.Status, r.Body)
	}
	do(t, nil, "GET", u, nil, header{apiblob.HeaderSecret: "wrong"}).wantError(t, 403, apiblob.CodeForbidden, "no valid shared secret")
	do(t, nil, "GET", u, nil, nil).wantError(t, 401, apiblob.CodeUnauthorized)
}

// TestMutualTLS serves HTTPS: the Cloud Controller's certificate gets
// internal access, another daemon's certificate and no certificate do not,
// and signed URLs work without a certificate.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	issue := func(name string) (*pki.Cert, pki.Files) {
		c, err := ca.Issue(pki.IssueRequest{CommonName: name, DNSNames: []string{name + ".service.internal"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true})
		if err != nil {
			t.Fatal(err)
		}
		files, err := c.WriteFiles(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return c, files
	}
	_, srvFiles := issue("blobstore")
	caFiles, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, func(c *blobstore.Config) {
		c.TLS = blobstore.TLSConfig{CertFile: srvFiles.Cert, KeyFile: srvFiles.Key, CAFile: caFiles.Cert}
		c.Auth.ClientNames = []string{"cloud_controller"}
	})
	client := func(name string) *http.Client {
		cfg := pki.ClientTLS(tls.Certificate{}, ca.Pool(), "")
		if name != "" {
			c, _ := issue(name)
			cert, err := c.TLSCertificate()
			if err != nil {
				t.Fatal(err)
			}
			cfg = pki.ClientTLS(cert, ca.Pool(), "")
		}
		return tlsClient(cfg)
	}
	cc, rep, anon := client("cloud_controller"), client("rep"), client("")
	u := f.objectURL(apiblob.BucketPackages, "pkg")
	if r := do(t, cc, "PUT", u, strings.NewReader("bits"), nil); r.Status != 201 {
		t.Fatalf("PUT with the CC's certificate: %d %s", r.Status, r.Body)
	}
	if r := do(t, cc, "GET", f.URL+apiblob.ListPath(apiblob.BucketPackages), nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"pkg"`) {
		t.Errorf("list with the CC's certificate: %d %s", r.Status, r.Body)
	}
	do(t, rep, "GET", u, nil, nil).wantError(t, 403, apiblob.CodeForbidden, `"rep" is not allowed`)
	do(t, anon, "GET", u, nil, nil).wantError(t, 401, apiblob.CodeUnauthorized)
	signed := f.signed(signKey, "GET", apiblob.BucketPackages, "pkg", time.Now().Add(time.Minute))
	if r := do(t, anon, "GET", signed, nil, nil); r.Status != 200 || string(r.Body) != "bits" {
		t.Errorf("signed GET over TLS without a certificate: %d %s", r.Status, r.Body)
	}
	// A certificate from another CA gets nothing: Go clients do not even
	// offer it (it does not match the CAs the server asks for), others fail
	// the handshake.
	other, err := pki.NewCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := other.Issue(pki.IssueRequest{CommonName: "cloud_controller", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	ocert, _ := oc.TLSCertificate()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", u, nil)
	if resp, err := tlsClient(pki.ClientTLS(ocert, ca.Pool(), "")).Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("certificate from a foreign CA: status %d, want 401", resp.StatusCode)
		}
	}
}
