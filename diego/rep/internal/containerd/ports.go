package containerd

import (
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// portAllocator hands out host ports from a range. It moves through the
// range rather than reusing the lowest free port, so a port just released
// (with connections in TIME_WAIT, or conntrack entries for its old DNAT)
// is not handed out again at once.
type portAllocator struct {
	mu       sync.Mutex
	min, max uint32
	next     uint32
	used     map[uint32]string // port → container id
	// free reports whether nothing on the host listens on port; replaced
	// in tests.
	free func(port uint32) bool
}

func newPortAllocator(lo, hi uint32) *portAllocator {
	return &portAllocator{min: lo, max: hi, next: lo, used: map[uint32]string{}, free: hostPortFree}
}

// allocate returns n ports for container id.
func (a *portAllocator) allocate(id string, n int) ([]uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []uint32
	size := a.max - a.min + 1
	for tried := uint32(0); len(got) < n && tried < size; tried++ {
		p := a.next
		if a.next++; a.next > a.max {
			a.next = a.min
		}
		if _, taken := a.used[p]; taken || !a.free(p) {
			continue
		}
		a.used[p] = id
		got = append(got, p)
	}
	if len(got) < n {
		for _, p := range got {
			delete(a.used, p)
		}
		return nil, fmt.Errorf("%w (%d-%d)", errNoPorts, a.min, a.max)
	}
	return got, nil
}

// reserve marks the host ports of an existing container as used.
func (a *portAllocator) reserve(id string, ports []runtime.PortMapping) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ports {
		if p.HostPort >= a.min && p.HostPort <= a.max {
			a.used[p.HostPort] = id
		}
	}
}

// release frees the host ports of container id (ports another container
// holds are left alone).
func (a *portAllocator) release(id string, ports []runtime.PortMapping) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ports {
		if a.used[p.HostPort] == id {
			delete(a.used, p.HostPort)
		}
	}
}

// hostPortFree reports whether a TCP listener could bind port on every
// address (as an app in host networking does).
func hostPortFree(port uint32) bool {
	l, err := net.Listen("tcp", ":"+strconv.FormatUint(uint64(port), 10))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
