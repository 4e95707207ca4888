package auctioneer

import (
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
)

const fullYAML = `
rpc:
  listen: 0.0.0.0:9016
  cert_file: /var/vcap/jobs/auctioneer/config/certs/server.crt
  key_file: /var/vcap/jobs/auctioneer/config/certs/server.key
  ca_file: /var/vcap/jobs/auctioneer/config/certs/ca.crt
  shutdown_timeout: 5s
ops:
  listen: 127.0.0.1:9116
logging:
  level: debug
bbs:
  addresses: [10.0.0.1:8889, 10.0.0.2:8889]
  cert_file: /certs/bbs-client.crt
  key_file: /certs/bbs-client.key
  ca_file: /certs/ca.crt
  server_name: bbs.service.internal
  request_timeout: 5s
  attempts: 4
rep:
  cert_file: /certs/rep-client.crt
  key_file: /certs/rep-client.key
  ca_file: /certs/ca.crt
  state_timeout: 2s
  perform_timeout: 15s
auction:
  batch_window: 400ms
  batch_flush_size: 500
  max_queued: 50000
  max_retries: -1
  starting_container_weight: 0.5
  report_concurrency: 8
`

func TestConfigParse(t *testing.T) {
	t.Parallel()
	var cfg Config
	if err := config.Parse([]byte(fullYAML), &cfg); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.RPC.Listen != "0.0.0.0:9016" || cfg.BBS.Attempts != 4 || len(cfg.BBS.Addresses) != 2 ||
		cfg.BBS.ServerName != "bbs.service.internal" || cfg.Rep.CAFile != "/certs/ca.crt" || cfg.Rep.PerformTimeout != 15*time.Second ||
		cfg.Auction.BatchWindow != 400*time.Millisecond || cfg.Auction.StartingContainerWeight != 0.5 ||
		cfg.LoggingConfig().Level != "debug" {
		t.Errorf("parsed %+v", cfg)
	}
	if got := cfg.Auction.maxRetries(); got != 0 {
		t.Errorf("max_retries -1 gives %d retries, want 0", got)
	}
	if err := config.Parse([]byte("auction:\n  batch_windw: 1s\n"), &Config{}); err == nil {
		t.Error("an unknown key was accepted")
	}
}

// minimal is the smallest valid config.
func minimal() Config {
	var c Config
	c.RPC.CertFile, c.RPC.KeyFile, c.RPC.CAFile = "s.crt", "s.key", "ca.crt"
	c.BBS.Addresses = []string{"bbs:8889"}
	c.BBS.CertFile, c.BBS.KeyFile, c.BBS.CAFile = "c.crt", "c.key", "ca.crt"
	c.Rep.CertFile, c.Rep.KeyFile, c.Rep.CAFile = "c.crt", "c.key", "ca.crt"
	return c
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := minimal()
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct {
		name     string
		got, exp any
	}{
		{"rpc.listen", c.RPC.Listen, "127.0.0.1:9016"},
		{"ops.listen", c.Ops.Listen, "127.0.0.1:9116"},
		{"bbs.request_timeout", c.BBS.RequestTimeout, 10 * time.Second},
		{"bbs.attempts", c.BBS.Attempts, 3},
		{"rep.state_timeout", c.Rep.StateTimeout, time.Second},
		{"rep.perform_timeout", c.Rep.PerformTimeout, 10 * time.Second},
		{"auction.batch_window", c.Auction.BatchWindow, 250 * time.Millisecond},
		{"auction.batch_flush_size", c.Auction.BatchFlushSize, 1000},
		{"auction.max_queued", c.Auction.MaxQueued, 100_000},
		{"auction.max_retries", c.Auction.MaxRetries, 5},
		{"auction.starting_container_weight", c.Auction.StartingContainerWeight, 0.25},
		{"auction.report_concurrency", c.Auction.ReportConcurrency, 16},
	}
	for _, ch := range checks {
		if ch.got != ch.exp {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.exp)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"valid", func(*Config) {}, nil},
		{"everything missing", func(c *Config) { *c = Config{} }, []string{
			"rpc: cert_file: required", "rpc: ca_file: required", "bbs: address: required", "bbs: key_file: required", "rep: cert_file: required", "rep: ca_file: required",
		}},
		{"one bbs address", func(c *Config) { c.BBS.Addresses, c.BBS.Address = nil, "bbs:8889" }, nil},
		{"bad bbs addresses", func(c *Config) { c.BBS.Addresses = []string{"a:1", "nope"}; c.BBS.Address = "b:1" }, []string{
			"bbs: address and addresses: set one, not both", "bbs: addresses[1]",
		}},
		{"rep address", func(c *Config) { c.Rep.Address = "y:1" }, []string{
			"rep: address and addresses are not used (rep addresses come from the cell registry)",
		}},
		{"bad numbers", func(c *Config) {
			c.BBS.RequestTimeout, c.BBS.Attempts = -1, -1
			c.Rep.StateTimeout = -1
			c.Auction = AuctionConfig{BatchWindow: -1, BatchFlushSize: -1, MaxQueued: -5, MaxRetries: -2, StartingContainerWeight: -1, ReportConcurrency: -1}
		}, []string{
			"bbs.request_timeout must be positive", "bbs.attempts must be at least 1", "rep.state_timeout and rep.perform_timeout must be positive",
			"auction.batch_window must be positive", "auction.batch_flush_size must be at least 1", "auction.max_queued (-5)",
			"auction.max_retries must be -1", "auction.starting_container_weight must not be negative", "auction.report_concurrency must be at least 1",
		}},
		{"queue smaller than a batch", func(c *Config) { c.Auction.BatchFlushSize, c.Auction.MaxQueued = 100, 10 }, []string{"auction.max_queued (10) must be at least batch_flush_size (100)"}},
		{"bad log level", func(c *Config) { c.Logging.Level = "loud" }, []string{"logging: unknown log level"}},
		{"bad listen", func(c *Config) { c.RPC.Listen = "9016" }, []string{"rpc: listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := minimal()
			tt.modify(&c)
			c.Defaults()
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
