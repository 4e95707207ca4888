package containerd

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	tests := []struct {
		name string
		spec runtime.ContainerSpec
		// want maps a file under the container's /sys/fs/cgroup to its
		// content.
		want map[string]string
	}{
		{
			name: "set",
			spec: runtime.ContainerSpec{MemoryBytes: 64 << 20, CPUWeight: 50, MaxPids: 20},
			want: map[string]string{
				"memory/memory.limit_in_bytes": "67108864",
				"cpu/cpu.shares":               "512",
				"pids/pids.max":                "20",
			},
		},
		{
			name: "defaults",
			spec: runtime.ContainerSpec{},
			want: map[string]string{
				"memory/memory.limit_in_bytes": "9223372036854771712",
				"cpu/cpu.shares":               "1024",
				"pids/pids.max":                "1024",
			},
		},
		{
			name: "weight floor",
			spec: runtime.ContainerSpec{CPUWeight: 1},
			want: map[string]string{"cpu/cpu.shares": "10"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := create(t, r, tt.spec)
			for file, want := range tt.want {
				got := strings.TrimSpace(sh(t, r, c.ID, "cat /sys/fs/cgroup/"+file))
				if got != want {
					t.Errorf("%s = %s, want %s", file, got, want)
				}
			}
		})
	}
}

func TestOOM(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{MemoryBytes: 32 << 20})

	// An innocent SIGKILL first: exit 137 without an OOM.
	killed := run(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "kill -9 $$"}})
	if killed.Code != 137 || killed.OOMKilled {
		t.Fatalf("SIGKILLed process: %+v, want 137 without OOM", killed.ExitStatus)
	}
	// tail buffers a line that never ends until the limit kills it.
	res := run(t, r, c.ID, runtime.ProcessSpec{Args: []string{"tail", "/dev/zero"}})
	if res.Code != 137 || !res.OOMKilled {
		t.Fatalf("process over the memory limit: %+v, want 137 and OOMKilled", res.ExitStatus)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if r.oomEvents(c.ID) == 0 {
			return fmt.Errorf("no /tasks/oom event for %s", c.ID)
		}
		return nil
	})
	// The container survives its process's OOM, and the next process is
	// judged on its own.
	again := run(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "kill -9 $$"}})
	if again.Code != 137 || again.OOMKilled {
		t.Errorf("SIGKILLed process after an OOM: %+v, want 137 without OOM", again.ExitStatus)
	}
}

func TestPidsLimit(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{MaxPids: 10})
	res := run(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c",
		`i=0; while [ $i -lt 30 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo started`}})
	if !strings.Contains(res.stderr, "can't fork") && !strings.Contains(res.stderr, "Resource temporarily unavailable") {
		t.Errorf("30 processes under a limit of 10: exit %d, stdout %q, stderr %q; want fork failures", res.Code, res.stdout, res.stderr)
	}
	// The sleeps hold every pid: no exec can start now, but the host can
	// still read the container's files.
	events, err := r.ReadFile(context.Background(), c.ID, "/sys/fs/cgroup/pids/pids.events", 100)
	if err != nil || strings.TrimSpace(string(events)) == "max 0" {
		t.Errorf("pids.events %q, %v: want the limit hit", events, err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{MemoryBytes: 64 << 20})
	p, _, _ := start(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c",
		"dd if=/dev/zero of=/tmp/f bs=1M count=5 2>/dev/null; head -c 8000000 /dev/zero | tr '\\0' x >/dev/null; echo done; exec sleep 600"}})
	defer p.Signal(context.Background(), syscall.SIGKILL)
	var m runtime.Metrics
	testenv.Eventually(t, 10*time.Second, func() error {
		var err error
		if m, err = r.Metrics(context.Background(), c.ID); err != nil {
			return err
		}
		if m.DiskBytes < 5<<20 || m.CPUTime == 0 {
			return fmt.Errorf("metrics %+v: want at least 5 MiB disk and some CPU", m)
		}
		return nil
	})
	if m.MemoryLimitBytes != 64<<20 || m.MemoryBytes == 0 || m.MemoryBytes > 64<<20 {
		t.Errorf("memory %d of %d, want some of 64 MiB", m.MemoryBytes, m.MemoryLimitBytes)
	}
	if time.Since(m.At) > time.Minute {
		t.Errorf("metrics taken at %v", m.At)
	}
	unlimited := create(t, r, runtime.ContainerSpec{})
	if m, err := r.Metrics(context.Background(), unlimited.ID); err != nil || m.MemoryLimitBytes != 0 {
		t.Errorf("container without a limit: %+v, %v; want limit 0", m, err)
	}
}
