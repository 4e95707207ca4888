package uaa

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A password-grant access token payload as CF's UAA issues it for the cf
// client (values shortened).
const uaaUserPayload = `{
  "jti": "6d3c1ba7f5bd4c7e9a27bc4ee1c6b1e2",
  "sub": "0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11",
  "scope": ["openid", "routing.router_groups.write", "scim.read", "cloud_controller.admin",
            "uaa.user", "routing.router_groups.read", "cloud_controller.read", "password.write",
            "cloud_controller.write", "network.admin", "doppler.firehose", "scim.write"],
  "client_id": "cf",
  "cid": "cf",
  "azp": "cf",
  "grant_type": "password",
  "user_id": "0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11",
  "origin": "uaa",
  "user_name": "admin",
  "email": "admin",
  "auth_time": 1767225600,
  "rev_sig": "d6f1b5a2",
  "iat": 1767225600,
  "exp": 1767226200,
  "iss": "https://uaa.example.com/oauth/token",
  "zid": "uaa",
  "aud": ["scim", "cloud_controller", "password", "cf", "uaa", "openid", "doppler", "routing.router_groups", "network"],
  "revocable": true,
  "ext_attr": {"some": "thing"}
}`

func TestClaimsDecodeUAAPayload(t *testing.T) {
	t.Parallel()
	var c Claims
	if err := json.Unmarshal([]byte(uaaUserPayload), &c); err != nil {
		t.Fatal(err)
	}
	want := Claims{
		ID: "6d3c1ba7f5bd4c7e9a27bc4ee1c6b1e2", Subject: "0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11",
		ClientID: "cf", CID: "cf", AZP: "cf", GrantType: "password",
		UserID: "0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11", Origin: "uaa", UserName: "admin", Email: "admin",
		AuthTime: 1767225600, IssuedAt: 1767225600, ExpiresAt: 1767226200,
		Issuer: "https://uaa.example.com/oauth/token", ZoneID: "uaa", RevocationSignature: "d6f1b5a2", Revocable: true,
	}
	got := c
	got.Scope, got.Audience = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if len(c.Scope) != 12 || len(c.Audience) != 9 {
		t.Errorf("scope %v, aud %v", c.Scope, c.Audience)
	}
	if !c.HasScope(ScopeCloudControllerAdmin) || c.HasScope("cloud_controller") {
		t.Error("HasScope")
	}
	if !c.HasAnyScope("nope", ScopeDopplerFirehose) || c.HasAnyScope("nope", "cloud_controller") || c.HasAnyScope() {
		t.Error("HasAnyScope")
	}
	if c.IsClient() {
		t.Error("user token reported as client token")
	}
}

func TestClaimsJSONNames(t *testing.T) {
	t.Parallel()
	// A client token: the user fields must be absent (the cf CLI treats a
	// token with user_name as a user token and then requires user_id and
	// origin), while exp is always present.
	c := Claims{ID: "j", Subject: "c", Scope: []string{"uaa.none"}, ClientID: "c", CID: "c",
		GrantType: GrantClientCredentials, IssuedAt: 1, ExpiresAt: 2, Issuer: "i", ZoneID: "uaa", Audience: []string{"c"}}
	if !c.IsClient() {
		t.Error("client token not reported as client")
	}
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"aud", "cid", "client_id", "exp", "grant_type", "iat", "iss", "jti", "scope", "sub", "zid"}
	if !slices.Equal(keys, want) {
		t.Errorf("client token keys = %v, want %v", keys, want)
	}

	// Every field round-trips under UAA's names.
	full := Claims{ID: "j", Subject: "s", Scope: []string{"a"}, ClientID: "cf", CID: "cf", AZP: "cf",
		GrantType: "password", UserID: "u", Origin: "uaa", UserName: "n", Email: "e", AuthTime: 3,
		IssuedAt: 4, ExpiresAt: 5, NotBefore: 6, Issuer: "i", ZoneID: "z", Audience: []string{"x"},
		RevocationSignature: "r", Revocable: true}
	b, err = json.Marshal(&full)
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"jti", "sub", "scope", "client_id", "cid", "azp", "grant_type", "user_id", "origin",
		"user_name", "email", "auth_time", "iat", "exp", "nbf", "iss", "zid", "aud", "rev_sig", "revocable"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%q missing from %s", k, b)
		}
	}
	var back Claims
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, full) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

func TestClaimsImplementsJWTClaims(t *testing.T) {
	t.Parallel()
	c := &Claims{ExpiresAt: 100, IssuedAt: 50, Issuer: "i", Subject: "s", Audience: []string{"a", "b"}}
	var jc jwt.Claims = c
	exp, _ := jc.GetExpirationTime()
	iat, _ := jc.GetIssuedAt()
	nbf, _ := jc.GetNotBefore()
	iss, _ := jc.GetIssuer()
	sub, _ := jc.GetSubject()
	aud, _ := jc.GetAudience()
	if !exp.Time.Equal(time.Unix(100, 0)) || !iat.Time.Equal(time.Unix(50, 0)) || nbf != nil ||
		iss != "i" || sub != "s" || !slices.Equal([]string(aud), []string{"a", "b"}) {
		t.Errorf("got exp=%v iat=%v nbf=%v iss=%q sub=%q aud=%v", exp, iat, nbf, iss, sub, aud)
	}
}

func TestResourceIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		client string
		scopes []string
		want   []string
	}{
		{"cf", nil, []string{"cf"}},
		{"", []string{"openid"}, []string{"openid"}},
		{"cf", []string{ScopeCloudControllerRead, ScopeCloudControllerWrite, ScopeOpenID, ScopeRoutingRouterGroupsRead, ScopeDopplerFirehose},
			[]string{"cf", "cloud_controller", "openid", "routing.router_groups", "doppler"}},
		{"cloud_controller", []string{ScopeCloudControllerAdmin}, []string{"cloud_controller"}},
		{"x", []string{"", ".", "a."}, []string{"x", "a"}},
	}
	for _, tt := range tests {
		if got := ResourceIDs(tt.client, tt.scopes); !slices.Equal(got, tt.want) {
			t.Errorf("ResourceIDs(%q, %v) = %v, want %v", tt.client, tt.scopes, got, tt.want)
		}
	}
}
