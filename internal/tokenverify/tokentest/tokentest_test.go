package tokentest_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

func TestTokensVerify(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	v := iss.Verifier(t)

	user, err := v.Verify(t.Context(), "bearer "+iss.UserToken(t, "u-1", "alice", uaa.ScopeCloudControllerRead))
	if err != nil {
		t.Fatal(err)
	}
	if user.UserID != "u-1" || user.UserName != "alice" || user.Origin != uaa.OriginUAA || user.ClientID != "cf" ||
		user.IsClient() || !user.HasScope(uaa.ScopeCloudControllerRead) || user.Issuer != iss.IssuerClaim() ||
		user.ExpiresAt <= user.IssuedAt || user.ID == "" || !user.Revocable {
		t.Errorf("user claims = %+v", user)
	}

	client, err := v.Verify(t.Context(), iss.ClientToken(t, "cc-worker", uaa.ScopeCloudControllerAdmin))
	if err != nil {
		t.Fatal(err)
	}
	if !client.IsClient() || client.ClientID != "cc-worker" || client.Subject != "cc-worker" ||
		client.GrantType != uaa.GrantClientCredentials {
		t.Errorf("client claims = %+v", client)
	}
}

// The header and payload keep the shape the cf CLI decodes (contract §0
// rules 11 and 12).
func TestTokenShapeForCFCLI(t *testing.T) {
	t.Parallel()
	iss := tokentest.New(t)
	for name, tok := range map[string]string{
		"user":   iss.UserToken(t, "u-1", "alice"),
		"client": iss.ClientToken(t, "c"),
	} {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || strings.Contains(tok, "=") {
			t.Fatalf("%s: not 3 unpadded parts: %q", name, tok)
		}
		var header map[string]any
		var payload map[string]any
		for i, dst := range []*map[string]any{&header, &payload} {
			b, err := base64.RawURLEncoding.DecodeString(parts[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, dst); err != nil {
				t.Fatal(err)
			}
		}
		if header["alg"] != "RS256" || header["kid"] != iss.KeyID {
			t.Errorf("%s: header %v", name, header)
		}
		if _, ok := payload["exp"].(float64); !ok {
			t.Errorf("%s: exp is not a number: %v", name, payload)
		}
		_, hasUser := payload["user_name"]
		_, hasUserID := payload["user_id"].(string)
		_, hasOrigin := payload["origin"].(string)
		_, hasClient := payload["client_id"].(string)
		if hasUser != (name == "user") || hasUser && (!hasUserID || !hasOrigin) || !hasUser && !hasClient {
			t.Errorf("%s: payload %v", name, payload)
		}
	}
}

// Issuers from New share a key but not a kid.
func TestIssuersAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := tokentest.New(t), tokentest.New(t)
	if a.KeyID == b.KeyID {
		t.Fatal("two Issuers share a kid")
	}
	_, err := a.Verifier(t).Verify(t.Context(), b.UserToken(t, "u", "bob"))
	if !errors.Is(err, tokenverify.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}
