package rep_test

import (
	"strings"
	"testing"
	"time"

	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/testenv"
)

const exampleYAML = `
rpc:
  listen: 0.0.0.0:1801
  cert_file: /var/vcap/jobs/rep/config/certs/tls.crt
  key_file: /var/vcap/jobs/rep/config/certs/tls.key
  ca_file: /var/vcap/jobs/rep/config/certs/ca.crt
advertise_address: 10.0.16.4
ops:
  listen: 127.0.0.1:1802
logging:
  level: debug
cell_id: cell-z1-0
zone: z1
stacks:
  cflinuxfs4: /var/vcap/packages/cflinuxfs4/rootfs
placement_tags: [ssd]
capacity:
  memory_mb: 16384
  disk_mb: 65536
bbs:
  addresses: [10.0.0.10:8889, 10.0.0.11:8889]
  cert_file: /var/vcap/jobs/rep/config/certs/bbs/client.crt
  key_file: /var/vcap/jobs/rep/config/certs/bbs/client.key
  ca_file: /var/vcap/jobs/rep/config/certs/bbs/ca.crt
registry:
  bind: 0.0.0.0:7946
  advertise: 10.0.16.4
  join: [10.0.0.10, 10.0.0.11]
health_check:
  start_timeout: 2m
grace_period: 15s
evacuation:
  timeout: 5m
download:
  dir: /var/vcap/data/rep/downloads
  cache_mb: 20480
lifecycle_dir: /var/vcap/packages/buildpack_app_lifecycle
containerd:
  host_ip: 10.0.16.4
  network:
    mode: bridge
`

func TestParseExample(t *testing.T) {
	t.Parallel()
	var cfg rep.Config
	if err := config.Parse([]byte(exampleYAML), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.CellID != "cell-z1-0" || cfg.Capacity.MemoryMB != 16384 || cfg.Capacity.Containers != 250 ||
		cfg.HealthCheck.StartTimeout != 2*time.Minute || cfg.HealthCheck.StartupInterval != 500*time.Millisecond ||
		cfg.GracePeriod != 15*time.Second || cfg.Evacuation.Timeout != 5*time.Minute || cfg.Evacuation.PollInterval != 10*time.Second ||
		cfg.BulkSyncInterval != 30*time.Second || cfg.MetricsInterval != 15*time.Second || len(cfg.BBS.Addresses) != 2 ||
		cfg.Containerd.Network.Mode != "bridge" || cfg.Download.CacheMB != 20480 || cfg.MaxUploadMB != 2048 {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	var cfg rep.Config
	cfg.Defaults()
	for name, got := range map[string]any{
		"rpc.listen": cfg.RPC.Listen, "ops.listen": cfg.Ops.Listen, "grace_period": cfg.GracePeriod,
		"evacuation.timeout": cfg.Evacuation.Timeout, "bulk_sync_interval": cfg.BulkSyncInterval, "metrics_interval": cfg.MetricsInterval,
		"health_check.startup_interval": cfg.HealthCheck.StartupInterval, "health_check.liveness_interval": cfg.HealthCheck.LivenessInterval,
		"health_check.start_timeout": cfg.HealthCheck.StartTimeout, "capacity.containers": cfg.Capacity.Containers,
		"download.dir": cfg.Download.Dir, "bbs.attempts": cfg.BBS.Attempts,
	} {
		want := map[string]any{
			"rpc.listen": "127.0.0.1:1801", "ops.listen": "127.0.0.1:1802", "grace_period": 10 * time.Second,
			"evacuation.timeout": 10 * time.Minute, "bulk_sync_interval": 30 * time.Second, "metrics_interval": 15 * time.Second,
			"health_check.startup_interval": 500 * time.Millisecond, "health_check.liveness_interval": 30 * time.Second,
			"health_check.start_timeout": 60 * time.Second, "capacity.containers": int32(250),
			"download.dir": "/var/vcap/data/rep/downloads", "bbs.attempts": 3,
		}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "rep")
	tests := []struct {
		name   string
		change func(*rep.Config)
		want   string
	}{
		{"valid", func(*rep.Config) {}, ""},
		{"no cell id", func(c *rep.Config) { c.CellID = "" }, "cell_id is required"},
		{"no stacks", func(c *rep.Config) { c.Stacks = nil }, "at least one stack"},
		{"relative stack dir", func(c *rep.Config) { c.Stacks = map[string]string{"cflinuxfs4": "rootfs"} }, "stacks.cflinuxfs4"},
		{"bad stack name", func(c *rep.Config) { c.Stacks = map[string]string{"preloaded:x": "/x"} }, "not a stack name"},
		{"all interfaces without advertise", func(c *rep.Config) { c.RPC.Listen = "0.0.0.0:1801" }, "advertise_address is required"},
		{"unreachable advertise", func(c *rep.Config) { c.AdvertiseAddress = "0.0.0.0:1801" }, "no reachable host"},
		{"negative capacity", func(c *rep.Config) { c.Capacity.MemoryMB = -1 }, "capacity"},
		{"no bbs", func(c *rep.Config) { c.BBS.Address, c.BBS.Addresses = "", nil }, "bbs: address: required"},
		{"registry node name", func(c *rep.Config) { c.Registry.NodeName = "someone-else" }, "registry.node_name"},
		{"negative grace", func(c *rep.Config) { c.GracePeriod = -time.Second }, "grace_period -1s is negative"},
		{"relative download dir", func(c *rep.Config) { c.Download.Dir = "downloads" }, "download.dir"},
		{"containerd", func(c *rep.Config) { c.Containerd.Network.Mode = "overlay" }, "containerd: network.mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, certs)
			tt.change(&cfg)
			cfg.Defaults()
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "rep")
	tests := []struct {
		name   string
		change func(*rep.Config)
		want   string
	}{
		{"invalid config", func(c *rep.Config) { c.CellID = "" }, "rep: cell_id is required"},
		{"memory reserve above the machine", func(c *rep.Config) { c.Capacity.MemoryMB, c.Capacity.ReservedMemoryMB = 0, 1<<30 }, "capacity.memory_mb"},
		{"missing download CA", func(c *rep.Config) { c.Download.CAFile = "/nonexistent/ca.pem" }, "download.ca_file"},
		{"missing TLS files", func(c *rep.Config) { c.RPC.CertFile = "/nonexistent/cert.pem" }, "rpc server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, certs)
			tt.change(&cfg)
			if _, err := rep.New(cfg, rep.Deps{Runtime: newTestRuntime()}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestCapacityFromMachine(t *testing.T) {
	t.Parallel()
	c := newCell(t, cellOptions{tweak: func(cfg *rep.Config) {
		cfg.Capacity = rep.CapacityConfig{ReservedMemoryMB: 1, ReservedDiskMB: 1}
	}})
	state, err := c.client.State(ctxFor(t), &repv1.StateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if total := state.GetTotal(); total.GetMemoryMb() <= 0 || total.GetDiskMb() <= 0 || total.GetContainers() != 250 {
		t.Errorf("total %v", total)
	}
}
