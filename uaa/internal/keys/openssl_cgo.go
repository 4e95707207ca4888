//go:build cgo && linux

package keys

import (
	"crypto"
	"crypto/rsa"
	"fmt"
	"math/big"
	"sync"

	"github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// libcrypto is the OpenSSL 3 library loaded at run time (Debian 12's
// libssl3 package); nothing links against it at build time.
const libcrypto = "libcrypto.so.3"

var (
	initOnce sync.Once
	initErr  error
)

func opensslInit() error {
	initOnce.Do(func() {
		if ok, _ := openssl.CheckVersion(libcrypto); !ok {
			initErr = fmt.Errorf("%w: %s cannot be loaded", errNoOpenSSL, libcrypto)
			return
		}
		if err := openssl.Init(libcrypto); err != nil {
			initErr = fmt.Errorf("%w: %w", errNoOpenSSL, err)
		}
	})
	return initErr
}

func opensslVersion() string { return openssl.VersionText() }

type opensslSigner struct{ key *openssl.PrivateKeyRSA }

func newOpenSSLSigner(k *rsa.PrivateKey) (signer, error) {
	if err := opensslInit(); err != nil {
		return nil, err
	}
	if len(k.Primes) != 2 {
		return nil, fmt.Errorf("%w: multi-prime RSA keys are not supported", errNoOpenSSL)
	}
	k.Precompute()
	pk, err := openssl.NewPrivateKeyRSA(bbig.Enc(k.N), bbig.Enc(big.NewInt(int64(k.E))), bbig.Enc(k.D),
		bbig.Enc(k.Primes[0]), bbig.Enc(k.Primes[1]),
		bbig.Enc(k.Precomputed.Dp), bbig.Enc(k.Precomputed.Dq), bbig.Enc(k.Precomputed.Qinv))
	if err != nil {
		return nil, fmt.Errorf("%w: load key: %w", errNoOpenSSL, err)
	}
	return opensslSigner{pk}, nil
}

func (s opensslSigner) sign(digest []byte) ([]byte, error) {
	return openssl.SignRSAPKCS1v15(s.key, crypto.SHA256, digest)
}
