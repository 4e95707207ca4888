package containerd

import (
	"net"
	"net/netip"
	"path/filepath"
	"regexp"

	"github.com/containerd/containerd/v2/pkg/identifiers"

	"github.com/anvilpaas/anvil/internal/config"
)

// Network modes.
const (
	// NetworkHost shares the cell's network namespace: a container's
	// process listens directly on the host port the runtime allocated.
	NetworkHost = "host"
	// NetworkBridge gives each container its own network namespace on the
	// cell's bridge (CNI bridge + host-local + portmap), with its ports
	// mapped to allocated host ports.
	NetworkBridge = "bridge"
)

// Config is the containerd runtime's section of the rep's configuration.
type Config struct {
	// Socket is containerd's gRPC socket.
	Socket string `yaml:"socket"`
	// Namespace is the containerd namespace holding this cell's
	// containers, snapshots and leases. Cells sharing a daemon (or a host)
	// must each use their own: runc state, cgroups and shim sockets are
	// keyed by namespace and container id.
	Namespace string `yaml:"namespace"`
	// StateDir holds the cell's own state: the stdio FIFOs of running
	// processes (kept across rep restarts), network namespaces, IPAM
	// allocations and network records, and temporary mounts.
	StateDir string `yaml:"state_dir"`
	// HostIP is the cell's address as advertised to the router: host
	// ports are reachable on it.
	HostIP string `yaml:"host_ip"`
	// PortRange is the inclusive range host ports are allocated from, one
	// per container port. Cells on one host need disjoint ranges, outside
	// the kernel's ephemeral range.
	PortRange PortRange `yaml:"port_range"`
	// Network selects and configures container networking.
	Network NetworkConfig `yaml:"network"`
	// InitPath is the static init bind-mounted into every container and
	// run as PID 1 in pause mode (catatonit -P).
	InitPath string `yaml:"init_path"`
	// DefaultMaxPids caps the processes and threads of a container whose
	// spec sets none.
	DefaultMaxPids int64 `yaml:"default_max_pids"`
	// DefaultNoFile is the open-file limit of a process whose spec sets
	// none.
	DefaultNoFile uint64 `yaml:"default_nofile"`
}

// PortRange is an inclusive range of TCP ports.
type PortRange struct {
	Min uint32 `yaml:"min"`
	Max uint32 `yaml:"max"`
}

// NetworkConfig configures container networking.
type NetworkConfig struct {
	// Mode is NetworkHost or NetworkBridge.
	Mode string `yaml:"mode"`
	// Bridge is the cell's Linux bridge (bridge mode), at most 15
	// characters, unique on the host.
	Bridge string `yaml:"bridge"`
	// Subnet is the cell's container subnet (bridge mode), unique on the
	// host. The first address is the bridge's.
	Subnet string `yaml:"subnet"`
	// Name is the CNI network name (bridge mode), unique on the host:
	// libcni keys its result cache by it.
	Name string `yaml:"name"`
	// CNIBinDir holds the CNI plugins (bridge, host-local, portmap,
	// loopback).
	CNIBinDir string `yaml:"cni_bin_dir"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Socket == "" {
		c.Socket = "/run/containerd/containerd.sock"
	}
	if c.Namespace == "" {
		c.Namespace = "anvil-cell"
	}
	if c.StateDir == "" {
		c.StateDir = "/var/vcap/data/rep/containerd"
	}
	if c.HostIP == "" {
		c.HostIP = "127.0.0.1"
	}
	if c.PortRange == (PortRange{}) {
		c.PortRange = PortRange{Min: 61001, Max: 65534}
	}
	n := &c.Network
	if n.Mode == "" {
		n.Mode = NetworkHost
	}
	if n.Bridge == "" {
		n.Bridge = "anvil0"
	}
	if n.Subnet == "" {
		n.Subnet = "10.254.0.0/22"
	}
	if n.Name == "" {
		n.Name = "anvil-" + c.Namespace
	}
	if n.CNIBinDir == "" {
		n.CNIBinDir = "/usr/lib/cni"
	}
	if c.InitPath == "" {
		c.InitPath = "/usr/bin/catatonit"
	}
	if c.DefaultMaxPids == 0 {
		c.DefaultMaxPids = 1024
	}
	if c.DefaultNoFile == 0 {
		c.DefaultNoFile = 16384
	}
}

// bridgeNameRe is what the kernel accepts as an interface name, minus the
// characters that make trouble in iptables rules.
var bridgeNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	requireAbs(&p, "socket", c.Socket)
	if err := identifiers.Validate(c.Namespace); err != nil {
		p.Addf("namespace %q is not a valid containerd namespace (letters, digits and single ._- between them, at most 76)", c.Namespace)
	}
	requireAbs(&p, "state_dir", c.StateDir)
	if net.ParseIP(c.HostIP) == nil {
		p.Addf("host_ip %q is not an IP address", c.HostIP)
	}
	if r := c.PortRange; r.Min < 1024 || r.Max > 65535 || r.Min > r.Max {
		p.Addf("port_range %d-%d must satisfy 1024 <= min <= max <= 65535", r.Min, r.Max)
	}
	n := c.Network
	switch n.Mode {
	case NetworkHost:
	case NetworkBridge:
		if !bridgeNameRe.MatchString(n.Bridge) {
			p.Addf("network.bridge %q must be 1-15 letters, digits, _ . or -", n.Bridge)
		}
		if pfx, err := netip.ParsePrefix(n.Subnet); err != nil || !pfx.Addr().Is4() || pfx.Bits() > 29 || pfx.Masked() != pfx {
			p.Addf("network.subnet %q must be an IPv4 network address with a prefix of at most /29 (e.g. 10.254.0.0/22)", n.Subnet)
		}
		if err := identifiers.Validate(n.Name); err != nil {
			p.Addf("network.name %q must be letters, digits and single ._- between them", n.Name)
		}
		requireAbs(&p, "network.cni_bin_dir", n.CNIBinDir)
	default:
		p.Addf("network.mode %q must be %q or %q", n.Mode, NetworkHost, NetworkBridge)
	}
	requireAbs(&p, "init_path", c.InitPath)
	if c.DefaultMaxPids < 1 {
		p.Addf("default_max_pids must be positive")
	}
	if c.DefaultNoFile < 64 {
		p.Addf("default_nofile must be at least 64")
	}
	return p.Err()
}

func requireAbs(p *config.Problems, field, path string) {
	switch {
	case path == "":
		p.Addf("%s is required", field)
	case !filepath.IsAbs(path):
		p.Addf("%s %q must be an absolute path", field, path)
	}
}
