package cloudcontroller

import (
	"strings"
	"testing"
)

func TestLoggregatorConfig(t *testing.T) {
	t.Parallel()
	base := func() Config {
		c := Config{Listen: "127.0.0.1:0", ExternalURL: "https://api.example.com", UAA: UAAConfig{URL: "https://uaa.example.com"}}
		c.Database.DSN = "postgres://localhost/cc"
		return c
	}
	c := base()
	c.Defaults()
	if err := c.Validate(); err != nil || c.Loggregator.Enabled() {
		t.Fatalf("no loggregator: enabled=%v, %v", c.Loggregator.Enabled(), err)
	}
	if c.Loggregator.Origin != "cloud_controller" {
		t.Errorf("origin %q", c.Loggregator.Origin)
	}
	c = base()
	c.Loggregator.Address = "127.0.0.1:8082"
	c.Loggregator.CertFile, c.Loggregator.KeyFile, c.Loggregator.CAFile = "cc.crt", "cc.key", "ca.crt"
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Errorf("loggregator on: %v", err)
	}
	c.Loggregator.BatchSize = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "loggregator") {
		t.Errorf("bad batch size: %v", err)
	}
}
