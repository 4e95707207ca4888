package diego

import (
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/rpc"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	var c Config
	c.Defaults()
	if c.Enabled() || c.Validate() != nil {
		t.Errorf("empty config: enabled %v, validate %v", c.Enabled(), c.Validate())
	}
	if c.SyncInterval != 30*time.Second || c.DomainTTL != 2*time.Minute || c.DropletURLTTL != 8760*time.Hour || c.BBS.Attempts != 3 {
		t.Errorf("defaults %+v", c)
	}
	c.BBS.ClientConfig = rpc.ClientConfig{Addresses: []string{"127.0.0.1:8889"}}
	if !c.Enabled() || c.Validate() == nil {
		t.Error("a BBS without TLS files validated")
	}
	c = Config{SyncInterval: time.Minute, DomainTTL: time.Second,
		BBS: BBSConfig{ClientConfig: rpc.ClientConfig{Address: "x:1", CertFile: "c", KeyFile: "k", CAFile: "ca"}}}
	c.Defaults()
	if err := c.Validate(); err == nil {
		t.Error("domain_ttl below sync_interval validated")
	}
}

func TestProcessOf(t *testing.T) {
	t.Parallel()
	p := "2b0f5e0c-8b55-4a77-9d0c-4f0a1f3f7e11"
	if got := processOf(lrpGUID(p, "7f5c2a1e-0000-4000-8000-000000000000")); got != p {
		t.Errorf("processOf = %q", got)
	}
	for _, bad := range []string{"", p, p + "x", "staging-task"} {
		if got := processOf(bad); got != "" {
			t.Errorf("processOf(%q) = %q", bad, got)
		}
	}
	if run, tags := parseAnnotation(annotation("r1", "t1")); run != "r1" || tags != "t1" {
		t.Errorf("annotation round trip: %q %q", run, tags)
	}
	if run, _ := parseAnnotation("cc-updated-at 2024"); run != "" {
		t.Errorf("foreign annotation parsed: %q", run)
	}
}
