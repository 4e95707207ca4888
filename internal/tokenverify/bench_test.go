package tokenverify_test

import (
	"testing"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

// Run with: go test -run '^$' -bench . -cpu 1 ./internal/tokenverify/

func benchVerify(b *testing.B, cacheSize int) {
	iss := tokentest.New(b)
	cfg := iss.Config()
	cfg.CacheSize = cacheSize
	cfg.Audiences = []string{uaa.ResourceCloudController}
	v, err := tokenverify.New(cfg, iss.Keys(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	tok := "bearer " + iss.UserToken(b, "0b8ab0a0-3b4c-4c8a-8e1a-3b6f0d4c7a11", "admin",
		uaa.ScopeOpenID, uaa.ScopeCloudControllerAdmin, uaa.ScopeCloudControllerRead, uaa.ScopeCloudControllerWrite,
		uaa.ScopeSCIMRead, uaa.ScopeSCIMWrite, uaa.ScopeUAAUser, uaa.ScopePasswordWrite, uaa.ScopeDopplerFirehose,
		uaa.ScopeRoutingRouterGroupsRead, uaa.ScopeRoutingRouterGroupsWrite)
	if _, err := v.Verify(b.Context(), tok); err != nil { // fetch keys, fill the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkVerifyCached verifies the same token again and again: a cache hit.
func BenchmarkVerifyCached(b *testing.B) { benchVerify(b, 0) }

// BenchmarkVerifyUncached does the full check (parse, RSA, claims) each time.
func BenchmarkVerifyUncached(b *testing.B) { benchVerify(b, -1) }

// BenchmarkVerifyCachedParallel is the cache hit under concurrent callers.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	iss := tokentest.New(b)
	v, err := tokenverify.New(iss.Config(), iss.Keys(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.UserToken(b, "u", "admin", uaa.ScopeCloudControllerAdmin)
	if _, err := v.Verify(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
