package containerd

import (
	"maps"
	"slices"
	"testing"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func TestLabelsRoundTrip(t *testing.T) {
	t.Parallel()
	spec := runtime.ContainerSpec{ID: "c1", Stack: "cflinuxfs4", MemoryBytes: 1 << 30,
		Labels: map[string]string{"instance-guid": "g", "anvil.other/x": "y"}}
	rec := netRecord{ID: "c1", NetNS: "/state/netns/cni-1", IP: "10.1.0.5",
		Ports: []runtime.PortMapping{{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 2222, HostPort: 61002}}}
	labels, err := containerLabels(spec, "192.0.2.2", rec)
	if err != nil {
		t.Fatal(err)
	}
	c := containerFromLabels("c1", labels)
	if !maps.Equal(c.Labels, spec.Labels) || c.IP != rec.IP || c.HostIP != "192.0.2.2" || !slices.Equal(c.Ports, rec.Ports) {
		t.Errorf("round trip gave %+v", c)
	}
	if back := recordFromLabels("c1", labels); back.NetNS != rec.NetNS || !slices.Equal(back.Ports, rec.Ports) {
		t.Errorf("record from labels %+v, want %+v", back, rec)
	}
	if _, err := containerLabels(runtime.ContainerSpec{Labels: map[string]string{labelPrefix + "ip": "x"}}, "h", rec); err == nil {
		t.Error("a label with the runtime's prefix was accepted")
	}
	if got := parsePorts("8080:61001,bad,1:2:3,70000:1,9090:61002"); !slices.Equal(got, []runtime.PortMapping{{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 9090, HostPort: 61002}}) {
		t.Errorf("parsePorts skipped the wrong entries: %v", got)
	}
}

func TestCPUShares(t *testing.T) {
	t.Parallel()
	for weight, want := range map[uint32]uint64{0: 1024, 100: 1024, 50: 512, 10: 102, 1: 10} {
		if got := cpuShares(weight); got != want {
			t.Errorf("cpuShares(%d) = %d, want %d", weight, got, want)
		}
	}
}
