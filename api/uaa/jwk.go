package uaa

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Values of the JWK fields Anvil uses.
const (
	KeyTypeRSA = "RSA"
	UseSig     = "sig"
	AlgRS256   = "RS256"
)

// Limits on RSA signing keys, checked by [NewJWK] and [JWK.PublicKey].
const (
	// MinRSABits is the smallest modulus accepted.
	MinRSABits = 2048
	// MaxRSABits is the largest modulus accepted; it bounds the cost of a
	// signature check.
	MaxRSABits = 8192
)

// JWK is one public signing key as UAA publishes it (RFC 7517 plus UAA's
// "value" field). N and E are base64url without padding; Value is the same
// key as PEM "-----BEGIN PUBLIC KEY-----" text, which older UAA clients read.
type JWK struct {
	KeyType   string `json:"kty"`
	E         string `json:"e"`
	N         string `json:"n"`
	Use       string `json:"use"`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	Value     string `json:"value"`
}

// JWKSet is the body of GET /token_keys.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// NewJWK describes pub as an RS256 signing key named kid.
func NewJWK(kid string, pub *rsa.PublicKey) (JWK, error) {
	if kid == "" {
		return JWK{}, errors.New("new jwk: kid is required")
	}
	if pub == nil || pub.N == nil {
		return JWK{}, errors.New("new jwk: public key is nil")
	}
	if err := checkRSA(pub); err != nil {
		return JWK{}, fmt.Errorf("new jwk %q: %w", kid, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return JWK{}, fmt.Errorf("new jwk %q: %w", kid, err)
	}
	e := big.NewInt(int64(pub.E)).Bytes()
	return JWK{
		KeyType:   KeyTypeRSA,
		E:         base64.RawURLEncoding.EncodeToString(e),
		N:         base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		Use:       UseSig,
		KeyID:     kid,
		Algorithm: AlgRS256,
		Value:     strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n"),
	}, nil
}

// PublicKey returns the RSA key k describes. It takes the key from N and E,
// or from Value when N and E are both empty; when both forms are present
// they must agree. It rejects a key that is not an RSA signing key for
// RS256, a modulus outside MinRSABits..MaxRSABits, and an exponent that is
// even, below 3 or above 2³¹-1. Empty Use and Algorithm are accepted.
func (k JWK) PublicKey() (*rsa.PublicKey, error) {
	pub, err := k.publicKey()
	if err != nil {
		return nil, fmt.Errorf("jwk %q: %w", k.KeyID, err)
	}
	return pub, nil
}

func (k JWK) publicKey() (*rsa.PublicKey, error) {
	if k.KeyType != KeyTypeRSA {
		return nil, fmt.Errorf("kty %q is not %q", k.KeyType, KeyTypeRSA)
	}
	if k.Use != "" && k.Use != UseSig {
		return nil, fmt.Errorf("use %q is not %q", k.Use, UseSig)
	}
	if k.Algorithm != "" && k.Algorithm != AlgRS256 {
		return nil, fmt.Errorf("alg %q is not %q", k.Algorithm, AlgRS256)
	}
	var fromNE, fromPEM *rsa.PublicKey
	var err error
	if k.N != "" || k.E != "" {
		if fromNE, err = parseNE(k.N, k.E); err != nil {
			return nil, err
		}
	}
	if k.Value != "" {
		if fromPEM, err = parsePEM(k.Value); err != nil {
			return nil, err
		}
	}
	pub := fromNE
	switch {
	case fromNE == nil && fromPEM == nil:
		return nil, errors.New("no key material (n, e or value)")
	case fromNE == nil:
		pub = fromPEM
	case fromPEM != nil && !fromNE.Equal(fromPEM):
		return nil, errors.New("n/e and value are different keys")
	}
	if err := checkRSA(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func parseNE(n, e string) (*rsa.PublicKey, error) {
	nb, err := decodeB64URL(n)
	if err != nil || len(nb) == 0 {
		return nil, fmt.Errorf("bad modulus n: %v", orEmpty(err))
	}
	eb, err := decodeB64URL(e)
	if err != nil || len(eb) == 0 {
		return nil, fmt.Errorf("bad exponent e: %v", orEmpty(err))
	}
	eb = bytes.TrimLeft(eb, "\x00")
	if len(eb) > 4 {
		return nil, errors.New("exponent e is too large")
	}
	var ev int64
	for _, b := range eb {
		ev = ev<<8 | int64(b)
	}
	if ev > 1<<31-1 {
		return nil, errors.New("exponent e is too large")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(ev)}, nil
}

// decodeB64URL decodes base64url, tolerating the padding that RFC 7518
// forbids but some publishers add.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func orEmpty(err error) error {
	if err == nil {
		return errors.New("empty")
	}
	return err
}

func parsePEM(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("value is not PEM")
	}
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("value holds a %T, not an RSA key", key)
		}
		return pub, nil
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("value is a PEM %q block, not a public key", block.Type)
}

func checkRSA(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return fmt.Errorf("modulus has %d bits, want %d..%d", bits, MinRSABits, MaxRSABits)
	}
	if pub.N.Bit(0) == 0 {
		return errors.New("modulus is even")
	}
	if pub.E < 3 || pub.E > 1<<31-1 || pub.E%2 == 0 {
		return fmt.Errorf("exponent %d is not an odd number in 3..2^31-1", pub.E)
	}
	return nil
}
