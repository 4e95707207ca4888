package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/oci"
	gocni "github.com/containerd/go-cni"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// cniPlugins are the CNI plugins bridge mode runs.
var cniPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// network connects containers. rec.Ports holds the container's port
// mappings when setup is called.
type network interface {
	// mappings pairs the spec's container ports with the allocated host
	// ports.
	mappings(containerPorts, hostPorts []uint32) []runtime.PortMapping
	// setup connects the container and fills rec.NetNS and rec.IP. It
	// calls save with rec once the network namespace exists, before
	// anything refers to it, so that a crash leaves a record to undo.
	setup(ctx context.Context, rec *netRecord, save func(netRecord) error) error
	// teardown undoes setup; it succeeds for a container whose network is
	// already (partly) gone.
	teardown(ctx context.Context, rec netRecord) error
	// specOpts put the container into its network.
	specOpts(rec netRecord) []oci.SpecOpts
}

// hostNetwork shares the cell's network namespace. There is no port
// translation: a process listens on the host port itself, so the mapping
// reports the host port as the container port too.
type hostNetwork struct {
	hostIP string
}

func (hostNetwork) mappings(_, hostPorts []uint32) []runtime.PortMapping {
	m := make([]runtime.PortMapping, len(hostPorts))
	for i, h := range hostPorts {
		m[i] = runtime.PortMapping{ContainerPort: h, HostPort: h}
	}
	return m
}

func (n hostNetwork) setup(_ context.Context, rec *netRecord, _ func(netRecord) error) error {
	rec.IP = n.hostIP
	return nil
}

func (hostNetwork) teardown(context.Context, netRecord) error { return nil }

func (hostNetwork) specOpts(netRecord) []oci.SpecOpts {
	return []oci.SpecOpts{
		oci.WithHostNamespace(specs.NetworkNamespace),
		oci.WithHostHostsFile,
		oci.WithHostResolvconf,
	}
}

// bridgeNetwork gives each container a network namespace on the cell's
// bridge through CNI: bridge (with host-local IPAM) for the address,
// portmap for the host ports, loopback for lo.
type bridgeNetwork struct {
	cni   gocni.CNI
	nsDir string
}

func newBridgeNetwork(cfg Config, dirs stateDirs) (*bridgeNetwork, error) {
	conf, err := bridgeConfList(cfg.Network, dirs.ipam())
	if err != nil {
		return nil, err
	}
	c, err := gocni.New(
		gocni.WithPluginDir([]string{cfg.Network.CNIBinDir}),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithMinNetworkCount(2),
	)
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	// The conflist must load first: go-cni names interfaces by load
	// index, and with loopback first the bridge network would become eth1
	// while Remove frees eth0, leaking the address.
	if err := c.Load(gocni.WithConfListBytes(conf), gocni.WithLoNetwork); err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	return &bridgeNetwork{cni: c, nsDir: dirs.netns()}, nil
}

// bridgeConfList is the cell's CNI network. ipMasq is off: containers get
// no outbound NAT (egress policy is not this runtime's business).
func bridgeConfList(n NetworkConfig, ipamDir string) ([]byte, error) {
	type obj = map[string]any
	conf := obj{
		"cniVersion": "1.0.0",
		"name":       n.Name,
		"plugins": []obj{
			{
				"type":        "bridge",
				"bridge":      n.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": obj{
					"type":    "host-local",
					"ranges":  [][]obj{{{"subnet": n.Subnet}}},
					"routes":  []obj{{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir,
				},
			},
			{
				"type":         "portmap",
				"capabilities": obj{"portMappings": true},
				"snat":         true,
			},
		},
	}
	return json.Marshal(conf)
}

func (*bridgeNetwork) mappings(containerPorts, hostPorts []uint32) []runtime.PortMapping {
	m := make([]runtime.PortMapping, len(hostPorts))
	for i, h := range hostPorts {
		m[i] = runtime.PortMapping{ContainerPort: containerPorts[i], HostPort: h}
	}
	return m
}

func (n *bridgeNetwork) setup(ctx context.Context, rec *netRecord, save func(netRecord) error) error {
	ns, err := netns.NewNetNS(n.nsDir)
	if err != nil {
		return fmt.Errorf("create network namespace: %w", err)
	}
	rec.NetNS = ns.GetPath()
	if err := save(*rec); err != nil {
		return err
	}
	res, err := n.cni.Setup(ctx, rec.ID, rec.NetNS, gocni.WithCapabilityPortMap(cniPorts(rec.Ports)))
	if err != nil {
		return fmt.Errorf("cni setup: %w", err)
	}
	iface := res.Interfaces["eth0"]
	if iface == nil || len(iface.IPConfigs) == 0 {
		return errors.New("cni setup: no address on eth0")
	}
	rec.IP = iface.IPConfigs[0].IP.String()
	return nil
}

func (n *bridgeNetwork) teardown(ctx context.Context, rec netRecord) error {
	path := rec.NetNS
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			// CNI cleans up after a namespace that is gone given no path.
			path = ""
		}
	}
	if err := n.cni.Remove(ctx, rec.ID, path, gocni.WithCapabilityPortMap(cniPorts(rec.Ports))); err != nil {
		return fmt.Errorf("cni remove: %w", err)
	}
	if rec.NetNS != "" {
		if err := netns.LoadNetNS(rec.NetNS).Remove(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove network namespace: %w", err)
		}
	}
	return nil
}

func (*bridgeNetwork) specOpts(rec netRecord) []oci.SpecOpts {
	return []oci.SpecOpts{
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: rec.NetNS}),
		oci.WithHostResolvconf,
	}
}

func cniPorts(ports []runtime.PortMapping) []gocni.PortMapping {
	pm := make([]gocni.PortMapping, len(ports))
	for i, p := range ports {
		pm[i] = gocni.PortMapping{HostPort: int32(p.HostPort), ContainerPort: int32(p.ContainerPort), Protocol: "tcp"}
	}
	return pm
}
