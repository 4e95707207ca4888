package tokenverify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

func TestHTTPKeys(t *testing.T) {
	t.Parallel()
	jwk := tokentest.New(t).JWK(t)
	ks := newKeyServer(t, jwk)
	keys, err := tokenverify.HTTPKeys(ks.URL+"/token_keys", nil).Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != jwk {
		t.Fatalf("keys = %+v", keys)
	}

	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"status", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 502) }, "502"},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }, "invalid character"},
		{"too big", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[],"x":"` + strings.Repeat("x", 1<<20) + `"}`))
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			_, err := tokenverify.HTTPKeys(srv.URL, srv.Client()).Keys(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := tokenverify.HTTPKeys("http://127.0.0.1:1/token_keys", nil).Keys(t.Context()); err == nil {
		t.Error("unreachable UAA: no error")
	}
}

func TestStaticKeysAreCopied(t *testing.T) {
	t.Parallel()
	in := []uaa.JWK{{KeyID: "a"}}
	src := tokenverify.StaticKeys(in...)
	in[0].KeyID = "changed"
	out, err := src.Keys(t.Context())
	if err != nil || len(out) != 1 || out[0].KeyID != "a" {
		t.Fatalf("Keys() = %+v, %v", out, err)
	}
	out[0].KeyID = "changed"
	if again, _ := src.Keys(t.Context()); again[0].KeyID != "a" {
		t.Fatal("caller changed the source")
	}
}
