//go:build !cgo || !linux

package keys

import (
	"crypto/rsa"
	"fmt"
)

func opensslVersion() string { return "" }

func newOpenSSLSigner(*rsa.PrivateKey) (signer, error) {
	return nil, fmt.Errorf("%w: built without cgo", errNoOpenSSL)
}
