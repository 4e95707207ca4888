package uaa_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/uaa"
)

// TestCFCLILoginSequence replays what `cf login` and the CLI's token
// refresh send (cf-cli-contract §1.9) and checks what the CLI reads.
func TestCFCLILoginSequence(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)

	// GET L/login with an empty Authorization header, as the CLI sends it.
	r := do(t, http.MethodGet, f.URL+"/login", nil, map[string]string{"Accept": "application/json", "Authorization": ""})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /login: %d %s", r.Status, r.Body)
	}
	var info struct {
		App     map[string]string   `json:"app"`
		Prompts map[string][]string `json:"prompts"`
		Links   map[string]string   `json:"links"`
	}
	r.json(t, &info)
	if p := info.Prompts["username"]; len(p) < 2 || p[0] != "text" {
		t.Errorf("username prompt %v", p)
	}
	if p := info.Prompts["password"]; len(p) < 2 || p[0] != "password" {
		t.Errorf("password prompt %v", p)
	}
	for k := range info.Prompts {
		if k != "username" && k != "password" {
			t.Errorf("extra prompt %q would make the CLI prompt interactively", k)
		}
	}
	if info.App["version"] == "" || info.Links["uaa"] != f.URL || info.Links["login"] != f.URL {
		t.Errorf("info %+v", info)
	}

	// Password grant with Basic cf: (empty secret).
	tr := f.login(t, "admin", adminPassword)
	if tr.TokenType != "bearer" || tr.RefreshToken == "" || tr.AccessToken == "" || tr.JTI == "" || tr.ExpiresIn <= 0 {
		t.Fatalf("token response %+v", tr)
	}
	parts := strings.Split(tr.AccessToken, ".")
	if len(parts) != 3 || strings.ContainsAny(tr.AccessToken, "=") {
		t.Fatalf("access token is not an unpadded 3-part JWS: %q", tr.AccessToken)
	}
	c := claimsOf(t, f, tr.AccessToken)
	if c.UserName != "admin" || c.UserID == "" || c.Origin != "uaa" || c.ExpiresAt == 0 || c.ClientID != "cf" ||
		c.Issuer != f.URL+"/oauth/token" || c.ZoneID != "uaa" || c.GrantType != "password" || c.RevocationSignature == "" {
		t.Fatalf("claims %+v", c)
	}
	if !c.HasScope("cloud_controller.admin") || !slices.Contains(c.Audience, "cloud_controller") || !slices.Contains(c.Audience, "cf") {
		t.Fatalf("scopes %v aud %v", c.Scope, c.Audience)
	}

	// Refresh: Basic cf:, a new refresh token each time, lowercase bearer.
	r = f.token(t, basic("cf", ""), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	var tr2 tokenResp
	r.json(t, &tr2)
	if tr2.TokenType != "bearer" || tr2.RefreshToken == "" || tr2.RefreshToken == tr.RefreshToken || tr2.AccessToken == tr.AccessToken {
		t.Fatalf("refresh response %+v", tr2)
	}
	// The used refresh token is spent.
	r = f.token(t, basic("cf", ""), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	if code, _ := r.oauthErr(t); r.Status != http.StatusUnauthorized || code != "invalid_token" {
		t.Fatalf("reused refresh token: %d %s", r.Status, r.Body)
	}
	// The new one works.
	r = f.token(t, basic("cf", ""), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr2.RefreshToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("second refresh: %d %s", r.Status, r.Body)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		auth       string
		form       url.Values
		wantStatus int
		wantCode   string
		wantAuthn  bool // a WWW-Authenticate header
	}{
		{"wrong password", basic("cf", ""), form("grant_type", "password", "username", "admin", "password", "nope"), 401, "unauthorized", true},
		{"unknown user", basic("cf", ""), form("grant_type", "password", "username", "ghost", "password", "x"), 401, "unauthorized", true},
		{"unknown client", basic("nobody", "x"), form("grant_type", "client_credentials"), 401, "unauthorized", true},
		{"wrong client secret", "", form("grant_type", "client_credentials", "client_id", "cc", "client_secret", "bad"), 401, "unauthorized", true},
		{"secret given to a public client", basic("cf", "x"), form("grant_type", "password", "username", "admin", "password", adminPassword), 401, "unauthorized", true},
		{"no client at all", "", form("grant_type", "password", "username", "admin", "password", adminPassword), 401, "unauthorized", true},
		{"grant not allowed for client", basic("cf", ""), form("grant_type", "client_credentials"), 401, "invalid_client", false},
		{"unknown grant", basic("cf", ""), form("grant_type", "magic"), 400, "unsupported_grant_type", false},
		{"missing grant", basic("cf", ""), form(), 400, "invalid_request", false},
		{"scope not allowed", "", form("grant_type", "client_credentials", "client_id", "cc", "client_secret", "cc-secret", "scope", "uaa.admin"), 400, "invalid_scope", false},
		{"refresh token garbage", basic("cf", ""), form("grant_type", "refresh_token", "refresh_token", "garbage"), 401, "invalid_token", true},
		{"missing refresh token", basic("cf", ""), form("grant_type", "refresh_token"), 400, "invalid_request", false},
		{"bad login_hint", basic("cf", ""), form("grant_type", "password", "username", "admin", "password", "x", "login_hint", "{"), 400, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.token(t, tt.auth, tt.form)
			code, desc := r.oauthErr(t)
			if r.Status != tt.wantStatus || code != tt.wantCode || desc == "" {
				t.Fatalf("got %d %s, want %d %s with a description", r.Status, r.Body, tt.wantStatus, tt.wantCode)
			}
			if got := r.Header.Get("WWW-Authenticate") != ""; got != tt.wantAuthn {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tt.wantAuthn)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	t.Run("huge body", func(t *testing.T) {
		t.Parallel()
		r := f.token(t, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {strings.Repeat("a", 2<<20)}})
		if code, _ := r.oauthErr(t); r.Status != http.StatusRequestEntityTooLarge || code != "invalid_request" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("malformed form", func(t *testing.T) {
		t.Parallel()
		r := do(t, http.MethodPost, f.URL+"/oauth/token", strings.NewReader("grant_type=%zz"), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic("cf", ""),
		})
		if code, _ := r.oauthErr(t); r.Status != http.StatusBadRequest || code != "invalid_request" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	// Form fields, as `cf auth --client-credentials` sends them.
	tok := f.clientToken(t, "cc", "cc-secret")
	c := claimsOf(t, f, tok)
	if !c.IsClient() || c.Subject != "cc" || c.ClientID != "cc" || c.GrantType != "client_credentials" {
		t.Fatalf("claims %+v", c)
	}
	want := []string{"cloud_controller.admin", "scim.read", "uaa.resource"}
	if !slices.Equal(c.Scope, want) {
		t.Fatalf("scopes %v, want %v", c.Scope, want)
	}
	// Basic auth works too, and a narrower scope can be asked for.
	r := f.token(t, basic("cc", "cc-secret"), url.Values{"grant_type": {"client_credentials"}, "scope": {"scim.read"}})
	var tr tokenResp
	r.json(t, &tr)
	if r.Status != http.StatusOK || tr.Scope != "scim.read" || tr.RefreshToken != "" {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	for i := 0; i < 5; i++ {
		r := f.token(t, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"wrong"}})
		if _, desc := r.oauthErr(t); r.Status != http.StatusUnauthorized || desc != "Bad credentials" {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := f.token(t, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}})
	if _, desc := r.oauthErr(t); r.Status != http.StatusUnauthorized || !strings.Contains(desc, "locked") {
		t.Fatalf("right password while locked: %d %s", r.Status, r.Body)
	}
}

func TestLockoutClearedBySuccess(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	for round := 0; round < 2; round++ {
		for i := 0; i < 4; i++ {
			f.token(t, basic("cf", ""), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"wrong"}})
		}
		// Four failures then a success: the count starts again.
		f.login(t, "admin", adminPassword)
	}
}

// TestKeyRotation publishes a second key, makes it active and retires the
// first: tokens stay valid while their key is published.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	keys := testKeys(t)
	dsn := ""
	f1 := startUAA(t, func(c *uaa.Config) { dsn = c.Database.DSN })
	old := f1.login(t, "admin", adminPassword).AccessToken
	v := f1.verifier(t)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("old token before rotation: %v", err)
	}

	// Step 1+2: publish key-2 and make it active (a restart on the same
	// database and URL, as a rolling deploy would).
	if err := f1.stop(); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, dsn)
	cfg.Listen = f1.cfg.Listen
	cfg.SigningKeys = append(cfg.SigningKeys, uaa.SigningKey{ID: "key-2", PEM: pemOf(t, keys[1])})
	cfg.ActiveKeyID = "key-2"
	f2 := startWith(t, cfg)
	v2 := v // the same verifier: it refetches keys when it meets a new kid
	if _, err := v2.Verify(context.Background(), old); err != nil {
		t.Fatalf("old token while its key is still published: %v", err)
	}
	fresh := f2.login(t, "admin", adminPassword).AccessToken
	if _, err := v2.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("new token: %v", err)
	}
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	f2.api(t, http.MethodGet, "/token_keys", "", nil, nil).json(t, &jwks)
	if len(jwks.Keys) != 2 {
		t.Fatalf("token_keys %+v, want both keys", jwks)
	}

	// Step 3: retire key-1. Tokens signed with it stop verifying; tokens of
	// key-2 go on.
	if err := f2.stop(); err != nil {
		t.Fatal(err)
	}
	cfg3 := baseConfig(t, dsn)
	cfg3.Listen = f1.cfg.Listen
	cfg3.SigningKeys = []uaa.SigningKey{{ID: "key-2", PEM: pemOf(t, keys[1])}}
	cfg3.ActiveKeyID = "key-2"
	f3 := startWith(t, cfg3)
	v3 := f3.verifier(t) // a fresh verifier only knows key-2
	if _, err := v3.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("key-2 token after retiring key-1: %v", err)
	}
	if _, err := v3.Verify(context.Background(), old); !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("key-1 token after retiring key-1: %v, want ErrUnknownKey", err)
	}
}

func TestCheckTokenIntrospectUserinfo(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	tok := f.login(t, "admin", adminPassword).AccessToken
	post := func(path, auth string, form url.Values) response {
		return do(t, http.MethodPost, f.URL+path, strings.NewReader(form.Encode()), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth,
		})
	}
	r := post("/check_token", basic("cc", "cc-secret"), url.Values{"token": {tok}})
	var c struct {
		UserName string `json:"user_name"`
	}
	if r.json(t, &c); r.Status != http.StatusOK || c.UserName != "admin" {
		t.Fatalf("check_token: %d %s", r.Status, r.Body)
	}
	r = post("/check_token", basic("cc", "cc-secret"), url.Values{"token": {tok}, "scopes": {"cloud_controller.admin"}})
	if r.Status != http.StatusOK {
		t.Fatalf("check_token with held scope: %d %s", r.Status, r.Body)
	}
	r = post("/check_token", basic("cc", "cc-secret"), url.Values{"token": {tok}, "scopes": {"uaa.admin"}})
	if code, _ := r.oauthErr(t); r.Status != http.StatusBadRequest || code != "invalid_scope" {
		t.Fatalf("check_token with missing scope: %d %s", r.Status, r.Body)
	}
	r = post("/check_token", basic("cc", "cc-secret"), url.Values{"token": {tok + "x"}})
	if code, _ := r.oauthErr(t); r.Status != http.StatusBadRequest || code != "invalid_token" {
		t.Fatalf("check_token of a bad token: %d %s", r.Status, r.Body)
	}
	r = post("/check_token", basic("admin-client", "admin-client-secret"), url.Values{"token": {tok}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("check_token by a client without uaa.resource: %d %s", r.Status, r.Body)
	}

	var in struct {
		Active   bool   `json:"active"`
		UserName string `json:"user_name"`
	}
	r = post("/introspect", basic("cc", "cc-secret"), url.Values{"token": {tok}})
	if r.json(t, &in); r.Status != http.StatusOK || !in.Active || in.UserName != "admin" {
		t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	in = struct {
		Active   bool   `json:"active"`
		UserName string `json:"user_name"`
	}{}
	r = post("/introspect", basic("cc", "cc-secret"), url.Values{"token": {"garbage"}})
	if r.json(t, &in); r.Status != http.StatusOK || in.Active {
		t.Fatalf("introspect garbage: %d %s", r.Status, r.Body)
	}

	var ui struct {
		UserName string `json:"user_name"`
		Email    string `json:"email"`
	}
	r = f.api(t, http.MethodGet, "/userinfo", tok, nil, nil)
	if r.json(t, &ui); r.Status != http.StatusOK || ui.UserName != "admin" || ui.Email != "admin@example.com" {
		t.Fatalf("userinfo: %d %s", r.Status, r.Body)
	}
	if r := f.api(t, http.MethodGet, "/userinfo", "", nil, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("userinfo without a token: %d", r.Status)
	}

	// A password change revokes tokens issued before it.
	admin := f.clientToken(t, "admin-client", "admin-client-secret")
	var users struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"resources"`
	}
	r = f.api(t, http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "admin"`), admin, nil, nil)
	if r.json(t, &users); len(users.Resources) != 1 || users.Resources[0].ID == "" {
		t.Fatalf("list users: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodPut, "/Users/"+users.Resources[0].ID+"/password", admin, map[string]string{"password": "new-pass"}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("set password: %d %s", r.Status, r.Body)
	}
	r = post("/check_token", basic("cc", "cc-secret"), url.Values{"token": {tok}})
	if code, _ := r.oauthErr(t); r.Status != http.StatusBadRequest || code != "invalid_token" {
		t.Fatalf("check_token after a password change: %d %s", r.Status, r.Body)
	}
	f.login(t, "admin", "new-pass")
}

// TestBootstrapIdempotent restarts the daemon on the same database.
func TestBootstrapIdempotent(t *testing.T) {
	t.Parallel()
	dsn := ""
	f := startUAA(t, func(c *uaa.Config) { dsn = c.Database.DSN })
	f.login(t, "admin", adminPassword)
	again := startWith(t, baseConfig(t, dsn))
	again.login(t, "admin", adminPassword)
	admin := again.clientToken(t, "admin-client", "admin-client-secret")
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	again.api(t, http.MethodGet, "/Users", admin, nil, nil).json(t, &list)
	if list.TotalResults != 1 {
		t.Fatalf("%d users after a second bootstrap, want 1", list.TotalResults)
	}
}
