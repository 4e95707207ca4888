package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

func hashSecret(secret string, cost int) ([]byte, error) {
	if len(secret) > 72 {
		return nil, errors.New("longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
	if err != nil {
		return nil, fmt.Errorf("hash secret: %w", err)
	}
	return h, nil
}

// secretCache remembers secrets already checked against a bcrypt hash, so
// that a client authenticating many times (client_credentials under load)
// pays for bcrypt once. An entry is keyed by the hash it was checked
// against: a changed secret (a new hash) never matches an old entry. It
// holds SHA-256 digests of secrets, never the secrets.
type secretCache struct {
	mu      sync.Mutex
	entries map[string][sha256.Size]byte // bcrypt hash → digest of the secret that matched it
}

const maxSecretCacheEntries = 10000

func newSecretCache() *secretCache {
	return &secretCache{entries: map[string][sha256.Size]byte{}}
}

// check reports whether secret matches hash, in constant time with respect
// to the secret once cached.
func (c *secretCache) check(hash []byte, secret string) bool {
	digest := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	cached, ok := c.entries[string(hash)]
	c.mu.Unlock()
	if ok {
		return subtle.ConstantTimeCompare(cached[:], digest[:]) == 1
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(secret)) != nil {
		return false
	}
	c.mu.Lock()
	if len(c.entries) >= maxSecretCacheEntries {
		clear(c.entries)
	}
	c.entries[string(hash)] = digest
	c.mu.Unlock()
	return true
}

// checkPassword compares a user's password with its bcrypt hash. An empty
// hash (a user created without a password) never matches.
func (s *Server) checkPassword(hash []byte, password string) error {
	if len(hash) == 0 {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return bcrypt.ErrMismatchedHashAndPassword
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password))
}
