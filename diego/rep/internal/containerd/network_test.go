package containerd

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// serve runs busybox httpd on each container port of c, serving a page
// naming the port.
func serve(t *testing.T, r *Runtime, c *runtime.Container) {
	t.Helper()
	for _, p := range c.Ports {
		port := itoa(p.ContainerPort)
		sh(t, r, c.ID, "mkdir -p /tmp/www"+port+" && echo port "+port+" > /tmp/www"+port+"/index.html")
		start(t, r, c.ID, runtime.ProcessSpec{
			Env:  []string{"PORT=" + port},
			Args: []string{"/bin/sh", "-c", "exec httpd -f -p $PORT -h /tmp/www$PORT"},
		})
	}
}

func TestHostNetwork(t *testing.T) {
	t.Parallel()
	r, cfg := newCellConfig(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080, 9090}})
	if c.IP != "127.0.0.1" || c.HostIP != "127.0.0.1" || len(c.Ports) != 2 {
		t.Fatalf("container %+v: want IP and HostIP 127.0.0.1 and two ports", c)
	}
	for _, p := range c.Ports {
		if p.ContainerPort != p.HostPort || p.HostPort < cfg.PortRange.Min || p.HostPort > cfg.PortRange.Max {
			t.Errorf("mapping %+v: want the same port inside and out, in %d-%d", p, cfg.PortRange.Min, cfg.PortRange.Max)
		}
	}
	if c.Ports[0].HostPort == c.Ports[1].HostPort {
		t.Errorf("one host port for two container ports: %+v", c.Ports)
	}
	serve(t, r, c)
	for _, p := range c.Ports {
		body := httpGet(t, "http://127.0.0.1:"+itoa(p.HostPort)+"/")
		if want := "port " + itoa(p.ContainerPort) + "\n"; body != want {
			t.Errorf("host port %d answered %q, want %q", p.HostPort, body, want)
		}
	}
}

func TestBridgeNetwork(t *testing.T) {
	t.Parallel()
	r, cfg := newCellConfig(t, NetworkBridge)
	a := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080, 9090}})
	b := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080}})
	subnet := netip.MustParsePrefix(cfg.Network.Subnet)
	for _, c := range []*runtime.Container{a, b} {
		ip, err := netip.ParseAddr(c.IP)
		if err != nil || !subnet.Contains(ip) || c.HostIP != "127.0.0.1" {
			t.Fatalf("container %+v: want an address in %s", c, subnet)
		}
	}
	if a.IP == b.IP {
		t.Fatalf("two containers share %s", a.IP)
	}
	if a.Ports[0].ContainerPort != 8080 || a.Ports[1].ContainerPort != 9090 || a.Ports[0].HostPort == a.Ports[1].HostPort ||
		b.Ports[0].ContainerPort != 8080 || b.Ports[0].HostPort == a.Ports[0].HostPort {
		t.Fatalf("mappings %+v and %+v: want 8080 and 9090 on distinct host ports", a.Ports, b.Ports)
	}
	serve(t, r, a)
	serve(t, r, b)
	for _, c := range []*runtime.Container{a, b} {
		for _, p := range c.Ports {
			want := "port " + itoa(p.ContainerPort) + "\n"
			if body := httpGet(t, "http://127.0.0.1:"+itoa(p.HostPort)+"/"); body != want {
				t.Errorf("%s host port %d answered %q, want %q", c.ID, p.HostPort, body, want)
			}
			if body := httpGet(t, "http://"+c.IP+":"+itoa(p.ContainerPort)+"/"); body != want {
				t.Errorf("%s at %s:%d answered %q, want %q", c.ID, c.IP, p.ContainerPort, body, want)
			}
		}
	}
	// Inside, the container has its own network: lo and eth0 only.
	links := sh(t, r, a.ID, "ls /sys/class/net | sort | tr '\\n' ' '")
	if links != "eth0 lo " {
		t.Errorf("container links %q, want eth0 and lo", links)
	}

	nsPath := filepath.Join(cfg.StateDir, "netns")
	if entries, _ := os.ReadDir(nsPath); len(entries) != 2 {
		t.Errorf("%d network namespaces for 2 containers", len(entries))
	}
	if err := r.Destroy(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(nsPath); len(entries) != 1 {
		t.Errorf("%d network namespaces after destroying 1 of 2 containers", len(entries))
	}
	if addrs := ipamAddresses(t, cfg); len(addrs) != 1 || addrs[0] != b.IP {
		t.Errorf("IPAM holds %v after destroying %s, want only %s", addrs, a.IP, b.IP)
	}
	if err := dialable("127.0.0.1:" + itoa(a.Ports[0].HostPort)); err == nil {
		t.Errorf("host port %d of a destroyed container still answers", a.Ports[0].HostPort)
	}
}

// ipamAddresses lists the addresses host-local holds for the cell.
func ipamAddresses(t *testing.T, cfg Config) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cfg.StateDir, "ipam", cfg.Network.Name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var addrs []string
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			addrs = append(addrs, e.Name())
		}
	}
	return addrs
}

func TestTwoCells(t *testing.T) {
	t.Parallel()
	cells := []struct {
		name string
		mode string
	}{
		{"bridge a", NetworkBridge},
		{"bridge b", NetworkBridge},
		{"host", NetworkHost},
	}
	type running struct {
		r *Runtime
		c *runtime.Container
	}
	var all []running
	for _, cell := range cells {
		r := newCell(t, cell.mode)
		// The same container id in every cell: namespaces keep them apart.
		c := create(t, r, runtime.ContainerSpec{ID: "same-id", Ports: []uint32{8080}, Labels: map[string]string{"cell": cell.name}})
		serve(t, r, c)
		all = append(all, running{r, c})
	}
	for i, x := range all {
		if body := httpGet(t, "http://127.0.0.1:"+itoa(x.c.Ports[0].HostPort)+"/"); !strings.HasPrefix(body, "port ") {
			t.Errorf("cell %s answered %q", cells[i].name, body)
		}
		cs, err := x.r.List(context.Background())
		if err != nil || len(cs) != 1 || cs[0].Labels["cell"] != cells[i].name {
			t.Errorf("cell %s lists %+v, %v; want only its own container", cells[i].name, cs, err)
		}
	}
	if all[0].c.IP == all[1].c.IP {
		t.Errorf("two bridge cells gave out one address %s", all[0].c.IP)
	}
	// Destroying one cell's container leaves the others serving.
	if err := all[0].r.Destroy(context.Background(), "same-id"); err != nil {
		t.Fatal(err)
	}
	for i, x := range all[1:] {
		if body := httpGet(t, "http://127.0.0.1:"+itoa(x.c.Ports[0].HostPort)+"/"); !strings.HasPrefix(body, "port ") {
			t.Errorf("cell %s answered %q after the first cell's container went", cells[i+1].name, body)
		}
	}
}
