package cellregistry

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/config"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	var c Config
	c.Defaults()
	want := Config{
		Bind:              DefaultBind,
		ProbeInterval:     DefaultProbeInterval,
		ProbeTimeout:      DefaultProbeTimeout,
		SuspicionMult:     DefaultSuspicionMult,
		GossipInterval:    DefaultGossipInterval,
		JoinRetryInterval: DefaultJoinRetryInterval,
		LeaveTimeout:      DefaultLeaveTimeout,
	}
	if c.Bind != want.Bind || c.ProbeInterval != want.ProbeInterval || c.ProbeTimeout != want.ProbeTimeout ||
		c.SuspicionMult != want.SuspicionMult || c.GossipInterval != want.GossipInterval ||
		c.JoinRetryInterval != want.JoinRetryInterval || c.LeaveTimeout != want.LeaveTimeout {
		t.Fatalf("Defaults() = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	key := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr []string // substrings, all of which must appear; none means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"test setup", func(c *Config) { c.Bind = "127.0.0.1:0"; c.Join = []string{"127.0.0.1:7946"} }, nil},
		{"empty bind host", func(c *Config) { c.Bind = ":7946" }, nil},
		{"ipv6 bind", func(c *Config) { c.Bind = "[::1]:7946" }, nil},
		{"seeds", func(c *Config) {
			c.Join = []string{"10.0.0.1:7946", "bbs.service.internal", "bbs.service.internal:7946", "10.0.0.2", "[fd00::1]:7946", "fd00::2"}
		}, nil},
		{"advertise ip", func(c *Config) { c.Advertise = "10.0.0.5" }, nil},
		{"advertise ip:port", func(c *Config) { c.Advertise = "10.0.0.5:8000" }, nil},
		{"keys", func(c *Config) { c.SecretKey = key(16) }, nil},
		{"aes-256 key", func(c *Config) { c.SecretKey = key(32) }, nil},
		{"cluster label", func(c *Config) { c.Cluster = "anvil-prod" }, nil},

		{"bind without port", func(c *Config) { c.Bind = "127.0.0.1" }, []string{"bind:", "missing port"}},
		{"bind hostname", func(c *Config) { c.Bind = "localhost:7946" }, []string{"bind:", `"localhost" is not an IP`}},
		{"bind bad port", func(c *Config) { c.Bind = "127.0.0.1:70000" }, []string{"bind:", "not a valid port"}},
		{"advertise hostname", func(c *Config) { c.Advertise = "cell.internal" }, []string{"advertise:", "not an IP"}},
		{"advertise port 0", func(c *Config) { c.Advertise = "10.0.0.5:0" }, []string{"advertise:", "not a valid port"}},
		{"empty seed", func(c *Config) { c.Join = []string{"10.0.0.1:7946", ""} }, []string{"join[1]: empty address"}},
		{"seed port", func(c *Config) { c.Join = []string{"10.0.0.1:x"} }, []string{"join[0]:", "not a valid port"}},
		{"seed url", func(c *Config) { c.Join = []string{"tcp://10.0.0.1:7946"} }, []string{"join[0]:"}},
		{"seed no host", func(c *Config) { c.Join = []string{":7946"} }, []string{"join[0]:", "no host"}},
		{"node name space", func(c *Config) { c.NodeName = " bbs" }, []string{"node_name"}},
		{"cluster too long", func(c *Config) { c.Cluster = strings.Repeat("x", 256) }, []string{"cluster is 256 bytes"}},
		{"key not base64", func(c *Config) { c.SecretKey = "not base64!" }, []string{"secret_key: not valid base64"}},
		{"key wrong size", func(c *Config) { c.SecretKey = key(20) }, []string{"secret_key: decodes to 20 bytes"}},
		{"probe timeout too long", func(c *Config) { c.ProbeTimeout = time.Second }, []string{"probe_timeout 1s must be less than probe_interval 500ms"}},
		{"negative durations", func(c *Config) {
			c.ProbeInterval, c.GossipInterval, c.JoinRetryInterval, c.LeaveTimeout = -1, -1, -1, -1
		}, []string{"probe_interval -1ns", "gossip_interval -1ns", "join_retry_interval -1ns", "leave_timeout -1ns"}},
		{"suspicion mult", func(c *Config) { c.SuspicionMult = 101 }, []string{"suspicion_mult 101"}},
		{"join retry too long", func(c *Config) { c.JoinRetryInterval = time.Hour }, []string{"join_retry_interval 1h0m0s"}},
		{"every problem at once", func(c *Config) {
			c.Bind = "x"
			c.SecretKey = "!"
			c.SuspicionMult = -1
		}, []string{"bind:", "secret_key:", "suspicion_mult -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			c.Defaults()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

// TestConfigYAML checks the field names and that durations parse the way
// a daemon's config file writes them.
func TestConfigYAML(t *testing.T) {
	t.Parallel()
	var c Config
	err := config.Parse([]byte(`
bind: 0.0.0.0:7946
advertise: 10.0.16.4
join: [10.0.16.2:7946, 10.0.16.3:7946]
node_name: ""
cluster: anvil
secret_key: `+base64.StdEncoding.EncodeToString(make([]byte, 32))+`
probe_interval: 1s
probe_timeout: 300ms
suspicion_mult: 5
gossip_interval: 200ms
join_retry_interval: 2s
leave_timeout: 3s
`), &c)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.ProbeInterval != time.Second || c.ProbeTimeout != 300*time.Millisecond || c.SuspicionMult != 5 ||
		c.LeaveTimeout != 3*time.Second || len(c.Join) != 2 || c.Advertise != "10.0.16.4" {
		t.Fatalf("parsed %+v", c)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		self   Member
		wantIs error
		want   string
	}{
		{"bad config", Config{Bind: "nope"}, Member{}, nil, "invalid config"},
		{"node name differs from cell id", Config{NodeName: "other"}, Member{Cell: presence("cell-a", 1)}, nil, `node_name "other" differs from cell_id "cell-a"`},
		{"metadata too large", Config{}, Member{Cell: tooLarge("cell-a")}, ErrMetadataTooLarge, "limit 512"},
		{"invalid presence", Config{}, Member{Cell: &bbsv1.CellPresence{Zone: "z1"}}, nil, "cell_id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg, tt.self, Deps{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}
