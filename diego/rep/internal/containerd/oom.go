package containerd

import (
	"context"
	"strconv"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/typeurl/v2"
)

// OOM detection. A process killed by the OOM killer exits 137, like any
// SIGKILLed one. What tells them apart is either a /tasks/oom event for
// its container, which the runtime subscribes to once, or a rise of the
// cgroup's oom_kill counter: the event travels on a separate stream and
// may arrive after the exit, the counter is read synchronously. A process
// counts as OOM-killed when it exited 137 and either grew since the
// process started.

// oomBaseline is a container's OOM kill counts when a process started.
type oomBaseline struct {
	events int
	cgroup uint64
}

// watchOOM records the /tasks/oom events of the cell's namespace until
// the Runtime closes, resubscribing after errors.
func (r *Runtime) watchOOM() {
	filter := `topic=="/tasks/oom",namespace==` + strconv.Quote(r.cfg.Namespace)
	delay := 100 * time.Millisecond
	for r.base.Err() == nil {
		ctx, cancel := context.WithCancel(r.base)
		envs, errs := r.client.EventService().Subscribe(ctx, filter)
	recv:
		for {
			select {
			case env := <-envs:
				delay = 100 * time.Millisecond
				ev, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					r.log.Warn("decode oom event", "error", err)
					continue
				}
				if oom, ok := ev.(*apievents.TaskOOM); ok {
					r.mu.Lock()
					r.ooms[oom.ContainerID]++
					r.mu.Unlock()
					r.log.Info("container hit its memory limit", "container", oom.ContainerID)
				}
			case err := <-errs:
				if r.base.Err() == nil {
					r.log.Debug("oom event subscription ended", "error", err)
				}
				break recv
			}
		}
		cancel()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.base.Done():
			t.Stop()
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (r *Runtime) oomEvents(containerID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ooms[containerID]
}

// oomBaseline reads a container's OOM kill counts before a process starts.
// The cgroup is read only for containers with a memory limit.
func (r *Runtime) oomBaseline(ctx context.Context, task client.Task, labels map[string]string) oomBaseline {
	b := oomBaseline{events: r.oomEvents(task.ID())}
	if labels[labelMemory] != "" {
		b.cgroup, _ = cgroupOOMKills(ctx, task)
	}
	return b
}

// oomKilled reports whether the OOM killer struck the container since
// base was taken.
func (r *Runtime) oomKilled(ctx context.Context, containerID string, base oomBaseline) bool {
	if r.oomEvents(containerID) > base.events {
		return true
	}
	ctx, cancel := context.WithTimeout(r.ctx(ctx), 5*time.Second)
	defer cancel()
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return false
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return false
	}
	n, ok := cgroupOOMKills(ctx, task)
	return ok && n > base.cgroup
}

// cgroupOOMKills returns the oom_kill counter of a task's memory cgroup.
func cgroupOOMKills(ctx context.Context, task client.Task) (uint64, bool) {
	m, err := cgroupMetrics(ctx, task)
	if err != nil {
		return 0, false
	}
	switch s := m.stats.(type) {
	case *v1.Metrics:
		if s.GetMemoryOomControl() == nil {
			return 0, false
		}
		return s.GetMemoryOomControl().GetOomKill(), true
	case *v2.Metrics:
		if s.GetMemoryEvents() == nil {
			return 0, false
		}
		return s.GetMemoryEvents().GetOomKill(), true
	}
	return 0, false
}
