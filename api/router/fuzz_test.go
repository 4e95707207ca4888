package router_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/anvilpaas/anvil/api/router"
)

// FuzzParseRegistryMessage checks that ParseRegistryMessage never panics,
// that every rejection wraps ErrInvalidMessage, and that every accepted
// message re-encodes to a message that parses to the same encoding.
func FuzzParseRegistryMessage(f *testing.F) {
	f.Add([]byte(`{"host":"10.0.0.1","port":61001,"uris":["app.example.com"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := router.ParseRegistryMessage(data)
		if err != nil {
			if !errors.Is(err, router.ErrInvalidMessage) {
				t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		if m.Host == "" || len(m.URIs) == 0 || (m.Port == 0 && m.TLSPort == 0) {
			t.Fatalf("accepted incomplete message %+v", m)
		}
		enc, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of accepted message: %v", err)
		}
		m2, err := router.ParseRegistryMessage(enc)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", enc, err)
		}
		enc2, err := m2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed message:\n%s\n%s", enc, enc2)
		}
	})
}
