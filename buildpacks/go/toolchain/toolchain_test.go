package toolchain

import (
	"runtime"
	"testing"
)

const platform = runtime.GOOS + "_" + runtime.GOARCH

func TestKeep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rel  string
		dir  bool
		want bool
	}{
		{"VERSION", false, true},
		{"go.env", false, true},
		{"bin", true, true},
		{"bin/go", false, true},
		{"bin/gofmt", false, false},
		{"pkg/include", true, true},
		{"pkg/tool/" + platform + "/compile", false, true},
		{"pkg/tool/" + platform + "/link", false, true},
		{"pkg/tool/plan9_arm/link", false, false},
		{"pkg/tool/" + platform + "/vet", false, false},
		{"pkg/tool/" + platform + "/cgo", false, false},
		{"src/net/http/server.go", false, true},
		{"src/net/http/server_test.go", false, false},
		{"src/net/http/testdata", true, false},
		{"src/cmd", true, false},
		{"lib/fips140", true, true},
		{"lib/wasm", true, false},
		{"test", true, false},
		{"api", true, false},
		{"doc", true, false},
		{"misc", true, false},
	} {
		if got := Keep(tc.rel, tc.dir); got != tc.want {
			t.Errorf("Keep(%q, %t) = %t, want %t", tc.rel, tc.dir, got, tc.want)
		}
	}
}
