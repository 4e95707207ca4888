package loggregator_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	em := e.emitter(t, logemitter.Config{})
	for _, src := range []string{app, "other-app", "gorouter"} {
		em.Log(logemitter.Log{SourceID: src, Message: "hi"})
	}
	e.waitCount(t, e.adminToken(t), "gorouter", 1)
	e.waitCount(t, e.adminToken(t), "other-app", 1)
	e.waitCount(t, e.adminToken(t), app, 1)

	dev := e.iss.UserToken(t, "dev-id", "dev", uaa.ScopeCloudControllerRead, uaa.ScopeOpenID)
	e.cc.grant(dev, app)
	stranger := e.iss.UserToken(t, "stranger-id", "stranger", uaa.ScopeCloudControllerRead)
	expired := e.iss.Token(t, func() uaa.Claims {
		c := e.iss.UserClaims("dev-id", "dev", uaa.ScopeDopplerFirehose)
		c.IssuedAt, c.ExpiresAt = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		return c
	}())
	foreign := tokentest.New(t).UserToken(t, "x", "x", uaa.ScopeDopplerFirehose)

	for _, tc := range []struct {
		name, token, source string
		want                int
	}{
		{"firehose", e.iss.UserToken(t, "a", "a", uaa.ScopeDopplerFirehose), "gorouter", 200},
		{"logs.admin client", e.iss.ClientToken(t, "monitor", uaa.ScopeLogsAdmin), "other-app", 200},
		{"cc admin", e.iss.UserToken(t, "b", "b", uaa.ScopeCloudControllerAdmin), "other-app", 200},
		{"cc admin read only", e.iss.UserToken(t, "c", "c", uaa.ScopeCloudControllerAdminReadOnly), app, 200},
		{"space developer, own app", dev, app, 200},
		{"space developer, other app", dev, "other-app", 404},
		{"space developer, component", dev, "gorouter", 404},
		{"stranger", stranger, app, 404},
		{"no token", "", app, 401},
		{"garbage token", "not.a.token", app, 401},
		{"expired", expired, app, 401},
		{"other issuer", foreign, app, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, body := e.get(t, tc.token, "/api/v1/read/"+tc.source)
			if code != tc.want {
				t.Errorf("status %d, want %d: %s", code, tc.want, body)
			}
		})
	}

	// Meta: admins see every source, a developer only their app.
	if code, body := e.get(t, dev, "/api/v1/meta"); code != 200 || !contains(body, app) || contains(body, "gorouter") || contains(body, "other-app") {
		t.Errorf("developer meta: %d %s", code, body)
	}
	if code, body := e.get(t, e.adminToken(t), "/api/v1/meta"); code != 200 || !contains(body, "gorouter") || !contains(body, "other-app") {
		t.Errorf("admin meta: %d %s", code, body)
	}
	if code, _ := e.get(t, "", "/api/v1/meta"); code != 401 {
		t.Errorf("anonymous meta: %d", code)
	}
}

func TestAuthCacheAndCCFailure(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{})
	dev := e.iss.UserToken(t, "dev-id", "dev", uaa.ScopeCloudControllerRead)
	e.cc.grant(dev, app)
	for range 5 {
		if code, body := e.get(t, dev, "/api/v1/read/"+app); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	if n := e.cc.calls.Load(); n != 1 {
		t.Errorf("cloud controller asked %d times, want 1 (cached)", n)
	}
	// CC failing: a fresh question is answered 502, not a denial.
	e.cc.status.Store(http.StatusInternalServerError)
	if code, body := e.get(t, dev, "/api/v1/read/another"); code != http.StatusBadGateway {
		t.Errorf("CC down: %d %s", code, body)
	}
	// The cached answer still serves.
	if code, _ := e.get(t, dev, "/api/v1/read/"+app); code != 200 {
		t.Errorf("cached answer: %d", code)
	}
}

func TestNoCCOnlyAdmins(t *testing.T) {
	t.Parallel()
	e := start(t, envOptions{noCC: true})
	dev := e.iss.UserToken(t, "dev-id", "dev", uaa.ScopeCloudControllerRead)
	if code, _ := e.get(t, dev, "/api/v1/read/"+app); code != 404 {
		t.Errorf("developer without CC: %d", code)
	}
	if code, _ := e.get(t, e.adminToken(t), "/api/v1/read/"+app); code != 200 {
		t.Errorf("admin without CC: %d", code)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// otherClientTLS is a client certificate from a CA loggregator does not
// trust (it trusts any server, to reach the handshake's client check).
func otherClientTLS(t *testing.T) *tls.Config {
	t.Helper()
	ca, err := pki.NewCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(pki.IssueRequest{CommonName: "intruder", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := pki.ClientTLS(cert, ca.Pool(), "")
	cfg.InsecureSkipVerify = true //nolint:gosec // the test is about the server refusing the client
	return cfg
}
