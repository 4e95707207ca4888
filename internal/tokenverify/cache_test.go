package tokenverify

import (
	"fmt"
	"testing"

	"github.com/anvilpaas/anvil/api/uaa"
)

func TestCacheEvictsSoonestExpiry(t *testing.T) {
	t.Parallel()
	c := newCache(evictSample) // every insert into a full cache sees all entries
	for i := range evictSample {
		c.put(fmt.Sprint(i), &verdict{claims: claimsExp(int64(100 + i))})
	}
	c.put("new", &verdict{claims: claimsExp(500)})
	if c.len() != evictSample {
		t.Fatalf("len = %d", c.len())
	}
	if c.get("0") != nil {
		t.Error("the entry expiring first was not evicted")
	}
	for _, k := range []string{"1", "2", "3", "4", "new"} {
		if c.get(k) == nil {
			t.Errorf("%s evicted", k)
		}
	}
	// Replacing an entry evicts nothing.
	c.put("new", &verdict{claims: claimsExp(600)})
	if c.len() != evictSample || c.get("1") == nil {
		t.Error("replacing an entry evicted another")
	}
	c.remove("new")
	if c.get("new") != nil || c.len() != evictSample-1 {
		t.Error("remove")
	}

	disabled := newCache(0)
	disabled.put("x", &verdict{})
	if disabled.get("x") != nil || disabled.len() != 0 {
		t.Error("a disabled cache stored something")
	}
	disabled.remove("x")
}

func TestStripBearer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"bearer abc":   "abc",
		"Bearer abc":   "abc",
		"bEaReR   abc": "abc",
		"abc":          "abc",
		"bearer":       "bearer",
		"bearerabc":    "bearerabc",
		"basic abc":    "basic abc",
		"":             "",
	} {
		if got := stripBearer(in); got != want {
			t.Errorf("stripBearer(%q) = %q, want %q", in, got, want)
		}
	}
}

func claimsExp(exp int64) (c uaa.Claims) {
	c.ExpiresAt = exp
	return c
}
