package containerd

import (
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/internal/config"
)

func TestConfigParse(t *testing.T) {
	t.Parallel()
	const yaml = `
socket: /run/containerd/containerd.sock
namespace: cell-z1-0
state_dir: /var/vcap/data/rep/containerd
host_ip: 10.0.16.5
port_range: {min: 61001, max: 61100}
network:
  mode: bridge
  bridge: cellz10
  subnet: 10.255.8.0/22
  name: cell-z1-0
  cni_bin_dir: /opt/cni/bin
init_path: /var/vcap/packages/catatonit/bin/catatonit
default_max_pids: 2048
default_nofile: 4096
`
	var c Config
	if err := config.Parse([]byte(yaml), &c); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Config{
		Socket: "/run/containerd/containerd.sock", Namespace: "cell-z1-0", StateDir: "/var/vcap/data/rep/containerd",
		HostIP: "10.0.16.5", PortRange: PortRange{Min: 61001, Max: 61100},
		Network:  NetworkConfig{Mode: NetworkBridge, Bridge: "cellz10", Subnet: "10.255.8.0/22", Name: "cell-z1-0", CNIBinDir: "/opt/cni/bin"},
		InitPath: "/var/vcap/packages/catatonit/bin/catatonit", DefaultMaxPids: 2048, DefaultNoFile: 4096,
	}
	if c != want {
		t.Errorf("parsed\n%+v\nwant\n%+v", c, want)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	var c Config
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.Network.Mode != NetworkHost || c.HostIP != "127.0.0.1" || c.InitPath != "/usr/bin/catatonit" ||
		c.Network.CNIBinDir != "/usr/lib/cni" || c.DefaultMaxPids != 1024 || c.Network.Name != "anvil-anvil-cell" {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"relative paths", func(c *Config) { c.Socket, c.StateDir, c.InitPath = "c.sock", "state", "catatonit" },
			[]string{"socket", "state_dir", "init_path"}},
		{"bad namespace", func(c *Config) { c.Namespace = "cell/a" }, []string{"namespace"}},
		{"bad host ip", func(c *Config) { c.HostIP = "cell.local" }, []string{"host_ip"}},
		{"inverted port range", func(c *Config) { c.PortRange = PortRange{Min: 62000, Max: 61000} }, []string{"port_range"}},
		{"privileged ports", func(c *Config) { c.PortRange = PortRange{Min: 80, Max: 1000} }, []string{"port_range"}},
		{"unknown mode", func(c *Config) { c.Network.Mode = "overlay" }, []string{"network.mode"}},
		{"bad bridge settings", func(c *Config) {
			c.Network = NetworkConfig{Mode: NetworkBridge, Bridge: "a-bridge-name-too-long", Subnet: "10.1.2.3/24", Name: "a b", CNIBinDir: "cni"}
		}, []string{"network.bridge", "network.subnet", "network.name", "network.cni_bin_dir"}},
		{"tiny subnet", func(c *Config) { c.Network.Mode, c.Network.Subnet = NetworkBridge, "10.0.0.0/30" }, []string{"network.subnet"}},
		{"host mode ignores bridge settings", func(c *Config) { c.Network.Bridge = "way-too-long-for-a-bridge" }, nil},
		{"limits", func(c *Config) { c.DefaultMaxPids, c.DefaultNoFile = -1, 10 }, []string{"default_max_pids", "default_nofile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			c.Defaults()
			tt.edit(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want problems with %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %s", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("%d problems reported, want %d: %v", n, len(tt.want), err)
			}
		})
	}
}
