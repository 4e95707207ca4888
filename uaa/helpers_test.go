package uaa_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
	"github.com/anvilpaas/anvil/uaa"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminPassword = "admin-secret"

// fixture is a running uaa daemon with a fresh database.
type fixture struct {
	URL  string
	cfg  uaa.Config
	dsn  string
	stop func() error
}

func pemOf(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = func() func(t testing.TB) [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	return func(t testing.TB) [2]*rsa.PrivateKey {
		if keys[0] == nil {
			keys[0], keys[1] = tokentest.GenerateKey(t), tokentest.GenerateKey(t)
		}
		return keys
	}
}()

// baseConfig returns the config of a UAA bootstrapped like the platform's:
// the admin in every CF group, the cf client and a resource client.
func baseConfig(t testing.TB, dsn string) uaa.Config {
	keys := testKeys(t)
	return uaa.Config{
		Listen:      "127.0.0.1:0",
		URL:         "http://uaa.test", // replaced once the port is known
		Database:    pg.Config{DSN: dsn},
		SigningKeys: []uaa.SigningKey{{ID: "key-1", PEM: pemOf(t, keys[0])}},
		BcryptCost:  4,
		Bootstrap: uaa.Bootstrap{
			Groups: []uaa.BootstrapGroup{{Name: "cloud_controller.admin"}, {Name: "cloud_controller.read"}, {Name: "openid"}, {Name: "scim.read"}, {Name: "scim.write"}, {Name: "uaa.user"}, {Name: "password.write"}},
			Users: []uaa.BootstrapUser{{
				Username: "admin", Password: adminPassword, Email: "admin@example.com",
				Groups: []string{"cloud_controller.admin", "cloud_controller.read", "openid", "scim.read", "scim.write", "uaa.user", "password.write"},
			}},
			Clients: []uaa.BootstrapClient{
				{ID: "cf", GrantTypes: []string{"password", "refresh_token"}, Scope: []string{"cloud_controller.admin", "cloud_controller.read", "openid", "scim.read", "scim.write", "uaa.user", "password.write"}},
				{ID: "cc", Secret: "cc-secret", GrantTypes: []string{"client_credentials"}, Authorities: []string{"uaa.resource", "scim.read", "cloud_controller.admin"}},
				{ID: "admin-client", Secret: "admin-client-secret", GrantTypes: []string{"client_credentials"}, Authorities: []string{"uaa.admin", "clients.admin", "scim.read", "scim.write"}},
			},
		},
	}
}

// startUAA runs a UAA with cfg (a fresh database unless cfg names one) and
// returns its base URL. The listener's port is picked first so that the
// issuer URL is the real one.
func startUAA(t testing.TB, mutate func(*uaa.Config)) *fixture {
	t.Helper()
	dsn := testenv.Postgres(t)
	cfg := baseConfig(t, dsn)
	if mutate != nil {
		mutate(&cfg)
	}
	return startWith(t, cfg)
}

func startWith(t testing.TB, cfg uaa.Config) *fixture {
	t.Helper()
	if cfg.Listen == "127.0.0.1:0" || cfg.Listen == "" {
		cfg.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	}
	cfg.URL = "http://" + cfg.Listen
	cfg.LoginURL = ""
	cfg.Ops.Listen = "127.0.0.1:0"
	u, err := uaa.New(cfg, testenv.Logger(t))
	if err != nil {
		t.Fatalf("uaa.New: %v", err)
	}
	stop := testenv.Start(t, u)
	return &fixture{URL: cfg.URL, cfg: cfg, dsn: cfg.Database.DSN, stop: stop}
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// oauthErr decodes UAA's error body.
func (r response) oauthErr(t testing.TB) (code, desc string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	r.json(t, &e)
	return e.Error, e.Description
}

func do(t testing.TB, method, u string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// token posts a form to /oauth/token the way the cf CLI does.
func (f *fixture) token(t testing.TB, auth string, form url.Values) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", "Connection": "close"}
	if auth != "" {
		h["Authorization"] = auth
	}
	return do(t, http.MethodPost, f.URL+"/oauth/token", strings.NewReader(form.Encode()), h)
}

type tokenResp struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	JTI          string `json:"jti"`
}

// login runs the password grant for the cf client and returns the tokens.
func (f *fixture) login(t testing.TB, user, password string) tokenResp {
	t.Helper()
	r := f.token(t, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}})
	if r.Status != http.StatusOK {
		t.Fatalf("password grant for %s: %d %s", user, r.Status, r.Body)
	}
	var tr tokenResp
	r.json(t, &tr)
	return tr
}

func (f *fixture) clientToken(t testing.TB, id, secret string) string {
	t.Helper()
	r := f.token(t, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials for %s: %d %s", id, r.Status, r.Body)
	}
	var tr tokenResp
	r.json(t, &tr)
	return tr.AccessToken
}

// api calls a bearer-authenticated JSON endpoint.
func (f *fixture) api(t testing.TB, method, path, token string, body any, extra map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	if token != "" {
		h["Authorization"] = "bearer " + token
	}
	for k, v := range extra {
		h[k] = v
	}
	return do(t, method, f.URL+path, rd, h)
}

// verifier verifies tokens against the UAA's published keys, as other
// daemons do.
func (f *fixture) verifier(t testing.TB) *tokenverify.Verifier {
	t.Helper()
	v, err := tokenverify.New(tokenverify.Config{UAAURL: f.URL, RefetchInterval: time.Millisecond},
		tokenverify.HTTPKeys(f.URL+"/token_keys", http.DefaultClient), testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func claimsOf(t testing.TB, f *fixture, tok string) *apiuaa.Claims {
	t.Helper()
	c, err := f.verifier(t).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c
}
