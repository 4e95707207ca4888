package keys

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
)

// Signing engines: which RSA implementation signs tokens.
const (
	// EngineAuto uses OpenSSL when the system's libcrypto can be loaded,
	// and Go's crypto/rsa otherwise.
	EngineAuto = "auto"
	// EngineOpenSSL uses the system's libcrypto (libcrypto.so.3) and fails
	// to start without it. RSA-2048 signing there is about 4× faster than
	// Go's constant-time implementation on the same core.
	EngineOpenSSL = "openssl"
	// EngineGo uses crypto/rsa.
	EngineGo = "go"
)

// signer makes PKCS#1 v1.5 signatures of SHA-256 digests with one key.
type signer interface {
	sign(digest []byte) ([]byte, error)
}

type goSigner struct{ key *rsa.PrivateKey }

func (s goSigner) sign(digest []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest)
}

// errNoOpenSSL is returned by newOpenSSLSigner when OpenSSL cannot be used.
var errNoOpenSSL = errors.New("openssl is not available")

// newSigners returns a signer per key for engine, and the engine used.
func newSigners(private map[string]*rsa.PrivateKey, engine string) (map[string]signer, string, error) {
	out := make(map[string]signer, len(private))
	switch engine {
	case "", EngineAuto, EngineOpenSSL:
		var err error
		for id, k := range private {
			var s signer
			if s, err = newOpenSSLSigner(k); err != nil {
				break
			}
			out[id] = s
		}
		if err == nil {
			return out, EngineOpenSSL + " (" + opensslVersion() + ")", nil
		}
		if engine == EngineOpenSSL {
			return nil, "", fmt.Errorf("signing engine openssl: %w", err)
		}
		clear(out)
	case EngineGo:
	default:
		return nil, "", fmt.Errorf("unknown signing engine %q (want auto, openssl or go)", engine)
	}
	for id, k := range private {
		out[id] = goSigner{k}
	}
	return out, EngineGo, nil
}
