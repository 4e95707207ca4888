// Package keys holds the UAA's token signing keys: it loads them from
// config, signs access tokens with the active one (RS256, kid in the
// header) and publishes all of them as a JWK set.
//
// Rotation is done in config: add a key (it is published at once), make it
// active, and remove the old one once no token signed with it is still
// valid. A Set is immutable and safe for concurrent use.
package keys

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
)

// Key is one configured signing key.
type Key struct {
	ID  string
	PEM []byte // PKCS#1 or PKCS#8 RSA private key
}

// Set is the loaded key set.
type Set struct {
	active   string
	private  map[string]*rsa.PrivateKey
	signers  map[string]signer
	engine   string
	jwks     apiuaa.JWKSet
	activeJW apiuaa.JWK
}

// MinBits is the smallest RSA modulus accepted.
const MinBits = 2048

// Load parses keys and picks the active one. engine chooses the RSA
// implementation that signs (EngineAuto, EngineOpenSSL, EngineGo; ""
// means auto).
func Load(keys []Key, activeID, engine string) (*Set, error) {
	if len(keys) == 0 {
		return nil, errors.New("keys: no signing keys")
	}
	s := &Set{active: activeID, private: map[string]*rsa.PrivateKey{}}
	for _, k := range keys {
		priv, err := parseRSA(k.PEM)
		if err != nil {
			return nil, fmt.Errorf("keys: key %q: %w", k.ID, err)
		}
		if _, dup := s.private[k.ID]; dup {
			return nil, fmt.Errorf("keys: duplicate key id %q", k.ID)
		}
		jwk, err := apiuaa.NewJWK(k.ID, &priv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("keys: key %q: %w", k.ID, err)
		}
		s.private[k.ID] = priv
		s.jwks.Keys = append(s.jwks.Keys, jwk)
		if k.ID == activeID {
			s.activeJW = jwk
		}
	}
	if _, ok := s.private[activeID]; !ok {
		return nil, fmt.Errorf("keys: active key %q is not among the signing keys", activeID)
	}
	var err error
	if s.signers, s.engine, err = newSigners(s.private, engine); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return s, nil
}

func parseRSA(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("not an RSA key (%T)", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if key.N.BitLen() < MinBits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", key.N.BitLen(), MinBits)
	}
	key.Precompute()
	return key, nil
}

// Sign returns the compact JWS of claims, signed RS256 with the active key.
func (s *Set) Sign(claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.active
	input, err := t.SigningString()
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	digest := sha256.Sum256([]byte(input))
	sig, err := s.signers[s.active].sign(digest[:])
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Engine names the RSA implementation that signs, for the start-up log.
func (s *Set) Engine() string { return s.engine }

// ActiveID returns the id of the signing key.
func (s *Set) ActiveID() string { return s.active }

// JWKS returns every published key.
func (s *Set) JWKS() apiuaa.JWKSet { return s.jwks }

// ActiveJWK returns the active key as a JWK (GET /token_key).
func (s *Set) ActiveJWK() apiuaa.JWK { return s.activeJW }
