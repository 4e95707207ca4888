package containerd

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/typeurl/v2"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Metrics returns a container's CPU time and memory from its cgroup, and
// the size of its writable layer as its disk use. Memory is the working
// set: usage less the inactive page cache, which the kernel reclaims
// before it OOM-kills. A container without a memory limit reports a limit
// of 0.
func (r *Runtime) Metrics(ctx context.Context, containerID string) (runtime.Metrics, error) {
	if r.base.Err() != nil {
		return runtime.Metrics{}, ErrClosed
	}
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return runtime.Metrics{}, notFound(err, "metrics of "+containerID)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return runtime.Metrics{}, notFound(err, "metrics of "+containerID)
	}
	cg, err := cgroupMetrics(ctx, task)
	if err != nil {
		return runtime.Metrics{}, fmt.Errorf("metrics of %s: %w", containerID, err)
	}
	m := runtime.Metrics{At: cg.at}
	switch s := cg.stats.(type) {
	case *v1.Metrics:
		m.CPUTime = time.Duration(s.GetCPU().GetUsage().GetTotal())
		mem := s.GetMemory()
		m.MemoryBytes = workingSet(mem.GetUsage().GetUsage(), mem.GetTotalInactiveFile())
		m.MemoryLimitBytes = limit(mem.GetUsage().GetLimit())
	case *v2.Metrics:
		m.CPUTime = time.Duration(s.GetCPU().GetUsageUsec()) * time.Microsecond
		mem := s.GetMemory()
		m.MemoryBytes = workingSet(mem.GetUsage(), mem.GetInactiveFile())
		m.MemoryLimitBytes = limit(mem.GetUsageLimit())
	}
	if u, err := r.client.SnapshotService(snapshotter).Usage(ctx, containerID); err == nil {
		m.DiskBytes = uint64(max(u.Size, 0))
	} else {
		r.log.Debug("writable layer usage", "container", containerID, "error", err)
	}
	return m, nil
}

type taskMetrics struct {
	at    time.Time
	stats any // *v1.Metrics or *v2.Metrics
}

func cgroupMetrics(ctx context.Context, task client.Task) (taskMetrics, error) {
	tm, err := task.Metrics(ctx)
	if err != nil {
		return taskMetrics{}, err
	}
	stats, err := typeurl.UnmarshalAny(tm.GetData())
	if err != nil {
		return taskMetrics{}, fmt.Errorf("decode cgroup metrics: %w", err)
	}
	at := time.Now()
	if ts := tm.GetTimestamp(); ts != nil {
		at = ts.AsTime()
	}
	return taskMetrics{at: at, stats: stats}, nil
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// limit maps the kernel's "unlimited" (a page-rounded MaxInt64 in cgroup
// v1, MaxUint64 in v2) to 0.
func limit(l uint64) uint64 {
	if l >= math.MaxInt64/2 {
		return 0
	}
	return l
}
