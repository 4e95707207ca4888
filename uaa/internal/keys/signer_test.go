package keys

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestEnginesAgree signs the same claims with every engine: RS256 (PKCS#1
// v1.5) is deterministic, so OpenSSL's token must be byte-identical to Go's.
// On a machine where OpenSSL should be present (CI), its absence fails.
func TestEnginesAgree(t *testing.T) {
	t.Parallel()
	pem := pkcs1(testKey())
	goSet, err := Load([]Key{{ID: "k1", PEM: pem}}, "k1", EngineGo)
	if err != nil {
		t.Fatal(err)
	}
	if goSet.Engine() != EngineGo {
		t.Fatalf("engine %q, want go", goSet.Engine())
	}
	sslSet, err := Load([]Key{{ID: "k1", PEM: pem}}, "k1", EngineOpenSSL)
	if errors.Is(err, errNoOpenSSL) && os.Getenv("CI") == "" {
		t.Skipf("OpenSSL engine unavailable here: %v", err)
	}
	if err != nil {
		t.Fatalf("openssl engine: %v", err)
	}
	if !strings.HasPrefix(sslSet.Engine(), "openssl (OpenSSL 3") {
		t.Errorf("engine %q, want openssl with its version", sslSet.Engine())
	}
	claims := jwt.MapClaims{"sub": "u1", "scope": []string{"openid"}, "exp": 2000000000}
	a, err := goSet.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sslSet.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("tokens differ:\ngo:      %s\nopenssl: %s", a, b)
	}
	auto, err := Load([]Key{{ID: "k1", PEM: pem}}, "k1", EngineAuto)
	if err != nil || auto.Engine() != sslSet.Engine() {
		t.Errorf("auto chose %q (%v), want %q", auto.Engine(), err, sslSet.Engine())
	}
	if _, err := Load([]Key{{ID: "k1", PEM: pem}}, "k1", "fast"); err == nil || !strings.Contains(err.Error(), `unknown signing engine "fast"`) {
		t.Errorf("unknown engine: %v", err)
	}
}
