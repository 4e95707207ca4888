package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8(t *testing.T, k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoad(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := pkcs1(testKey())
	tests := []struct {
		name    string
		keys    []Key
		active  string
		wantErr string
	}{
		{name: "pkcs1", keys: []Key{{ID: "a", PEM: good}}, active: "a"},
		{name: "pkcs8 and a second key", keys: []Key{{ID: "a", PEM: good}, {ID: "b", PEM: pkcs8(t, testKey())}}, active: "b"},
		{name: "none", keys: nil, active: "a", wantErr: "no signing keys"},
		{name: "active missing", keys: []Key{{ID: "a", PEM: good}}, active: "b", wantErr: "active key"},
		{name: "duplicate", keys: []Key{{ID: "a", PEM: good}, {ID: "a", PEM: good}}, active: "a", wantErr: "duplicate"},
		{name: "not PEM", keys: []Key{{ID: "a", PEM: []byte("nope")}}, active: "a", wantErr: "no PEM block"},
		{name: "too small", keys: []Key{{ID: "a", PEM: pkcs1(small)}}, active: "a", wantErr: "1024 bits"},
		{name: "wrong block", keys: []Key{{ID: "a", PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})}}, active: "a", wantErr: "unexpected PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Load(tt.keys, tt.active, EngineAuto)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.JWKS().Keys) != len(tt.keys) || s.ActiveJWK().KeyID != tt.active {
				t.Fatalf("JWKS %+v, active %+v", s.JWKS(), s.ActiveJWK())
			}
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	s, err := Load([]Key{{ID: "k1", PEM: pkcs1(testKey())}}, "k1", EngineAuto)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(jwt.MapClaims{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.ActiveJWK().PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		t.Fatalf("parse signed token: %v", err)
	}
	if parsed.Header["kid"] != "k1" {
		t.Fatalf("kid %v", parsed.Header["kid"])
	}
}
