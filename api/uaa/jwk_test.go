package uaa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestNewJWKRoundTrip(t *testing.T) {
	t.Parallel()
	pub := &testKey().PublicKey
	k, err := NewJWK("key-1", pub)
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyType != "RSA" || k.Use != "sig" || k.Algorithm != "RS256" || k.KeyID != "key-1" || k.E != "AQAB" {
		t.Errorf("jwk = %+v", k)
	}
	if strings.Contains(k.N, "=") || strings.ContainsAny(k.N, "+/") {
		t.Errorf("n %q is not raw base64url", k.N)
	}
	if !strings.HasPrefix(k.Value, "-----BEGIN PUBLIC KEY-----\n") || !strings.HasSuffix(k.Value, "-----END PUBLIC KEY-----") {
		t.Errorf("value = %q", k.Value)
	}

	// The JSON has exactly UAA's field names.
	b, err := json.Marshal(JWKSet{Keys: []JWK{k}})
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kty", "e", "n", "use", "kid", "alg", "value"} {
		if _, ok := raw.Keys[0][f]; !ok {
			t.Errorf("field %q missing from %s", f, b)
		}
	}
	if len(raw.Keys[0]) != 7 {
		t.Errorf("unexpected fields in %s", b)
	}

	for name, k := range map[string]JWK{
		"both":       k,
		"n/e only":   {KeyType: "RSA", N: k.N, E: k.E, KeyID: "k"},
		"value only": {KeyType: "RSA", Value: k.Value, KeyID: "k"},
		"padded n":   {KeyType: "RSA", N: base64.URLEncoding.EncodeToString(pub.N.Bytes()), E: "AQAB=", KeyID: "k"},
	} {
		got, err := k.PublicKey()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: key differs after round trip", name)
		}
	}
}

func TestJWKRejects(t *testing.T) {
	t.Parallel()
	good, err := NewJWK("good", &testKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherJWK, err := NewJWK("other", &other.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	oddBits := func(bits int) string {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		n.SetBit(n, 0, 1)
		return b64(n.Bytes())
	}
	ecPEM := func() string {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	with := func(f func(*JWK)) JWK { k := good; f(&k); return k }
	tests := []struct {
		name string
		key  JWK
		want string
	}{
		{"kty EC", with(func(k *JWK) { k.KeyType = "EC" }), "kty"},
		{"kty MAC", JWK{KeyType: "MAC", Value: "secret"}, "kty"},
		{"use enc", with(func(k *JWK) { k.Use = "enc" }), "use"},
		{"alg HS256", with(func(k *JWK) { k.Algorithm = "HS256" }), "alg"},
		{"alg RS512", with(func(k *JWK) { k.Algorithm = "RS512" }), "alg"},
		{"no material", JWK{KeyType: "RSA"}, "no key material"},
		{"bad n", with(func(k *JWK) { k.N = "!!!" }), "modulus"},
		{"empty e", with(func(k *JWK) { k.E = "" }), "exponent"},
		{"1024 bits", JWK{KeyType: "RSA", N: oddBits(1024), E: "AQAB"}, "1024 bits"},
		{"16384 bits", JWK{KeyType: "RSA", N: oddBits(16384), E: "AQAB"}, "16384 bits"},
		{"even modulus", JWK{KeyType: "RSA", N: b64(new(big.Int).Lsh(big.NewInt(1), 2047).Bytes()), E: "AQAB"}, "even"},
		{"e = 1", with(func(k *JWK) { k.E = b64([]byte{1}); k.Value = "" }), "exponent 1"},
		{"e even", with(func(k *JWK) { k.E = b64([]byte{1, 0, 0}); k.Value = "" }), "exponent 65536"},
		{"e huge", with(func(k *JWK) { k.E = b64([]byte{1, 0, 0, 0, 1}); k.Value = "" }), "too large"},
		{"e 2^31+1", with(func(k *JWK) { k.E = b64([]byte{0x80, 0, 0, 1}); k.Value = "" }), "too large"},
		{"value not PEM", with(func(k *JWK) { k.Value = "hello" }), "not PEM"},
		{"value EC", JWK{KeyType: "RSA", Value: ecPEM()}, "not an RSA key"},
		{"value private key block", JWK{KeyType: "RSA", Value: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}, "not a public key"},
		{"n/e and value disagree", with(func(k *JWK) { k.Value = otherJWK.Value }), "different keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.key.PublicKey()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewJWKRejects(t *testing.T) {
	t.Parallel()
	if _, err := NewJWK("", &testKey().PublicKey); err == nil {
		t.Error("empty kid accepted")
	}
	if _, err := NewJWK("k", nil); err == nil {
		t.Error("nil key accepted")
	}
	small := &rsa.PublicKey{N: new(big.Int).SetBit(new(big.Int).Lsh(big.NewInt(1), 1023), 0, 1), E: 65537}
	if _, err := NewJWK("k", small); err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("1024-bit key: err = %v", err)
	}
	// PKCS#1 "RSA PUBLIC KEY" PEM is accepted too.
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&testKey().PublicKey)}))
	if _, err := (JWK{KeyType: "RSA", Value: pkcs1}).PublicKey(); err != nil {
		t.Errorf("PKCS#1 value: %v", err)
	}
}

func FuzzJWKPublicKey(f *testing.F) {
	good, err := NewJWK("good", &testKey().PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good.N, good.E, good.Value)
	f.Add("", "", "")
	f.Add("AA", "AQAB", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----")
	f.Fuzz(func(t *testing.T, n, e, value string) {
		k := JWK{KeyType: "RSA", N: n, E: e, Value: value}
		pub, err := k.PublicKey()
		if err == nil && (pub.N.BitLen() < MinRSABits || pub.E < 3) {
			t.Fatalf("accepted weak key: %d bits, e=%d", pub.N.BitLen(), pub.E)
		}
	})
}
