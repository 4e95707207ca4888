package containerd

import (
	"errors"
	"slices"
	"testing"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func TestPortAllocator(t *testing.T) {
	t.Parallel()
	a := newPortAllocator(100, 104)
	busyOnHost := map[uint32]bool{101: true}
	a.free = func(p uint32) bool { return !busyOnHost[p] }
	a.reserve("old", []runtime.PortMapping{{ContainerPort: 8080, HostPort: 103}, {HostPort: 9999}})

	got, err := a.allocate("a", 2)
	if err != nil || !slices.Equal(got, []uint32{100, 102}) {
		t.Fatalf("allocate a: %v, %v; want [100 102] (101 busy on the host, 103 reserved)", got, err)
	}
	if _, err := a.allocate("b", 2); !errors.Is(err, errNoPorts) {
		t.Fatalf("allocate beyond the range: %v, want errNoPorts", err)
	}
	// The failed allocation gave back what it took.
	got, err = a.allocate("c", 1)
	if err != nil || !slices.Equal(got, []uint32{104}) {
		t.Fatalf("allocate c: %v, %v; want [104]", got, err)
	}
	// Release frees a container's own ports only.
	a.release("a", []runtime.PortMapping{{HostPort: 100}, {HostPort: 104}})
	got, err = a.allocate("d", 1)
	if err != nil || !slices.Equal(got, []uint32{100}) {
		t.Fatalf("allocate d after releasing a: %v, %v; want [100] (104 is still c's)", got, err)
	}
	if got, err := a.allocate("e", 0); err != nil || len(got) != 0 {
		t.Errorf("allocate none: %v, %v", got, err)
	}
}
