package rep_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"syscall"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// testRuntime is a minimal in-memory runtime.Runtime: containers are
// records, processes run until signalled or destroyed. Every container
// port is mapped to hostPort, where the test runs the "app".
type testRuntime struct {
	mu         sync.Mutex
	available  error
	stacks     map[string]string
	containers map[string]*testContainer
	hostPort   uint32
}

type testContainer struct {
	ctr   runtime.Container
	procs map[string]*testProcess
}

var _ runtime.Runtime = (*testRuntime)(nil)

func newTestRuntime() *testRuntime {
	return &testRuntime{stacks: map[string]string{}, containers: map[string]*testContainer{}}
}

func (r *testRuntime) Available(context.Context) error { return r.available }

func (r *testRuntime) EnsureStack(_ context.Context, name, dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stacks[name] = dir
	return nil
}

func (r *testRuntime) Cleanup(context.Context) error { return nil }

func (r *testRuntime) Create(_ context.Context, spec runtime.ContainerSpec) (*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.containers[spec.ID]; ok {
		return nil, fmt.Errorf("container %s exists", spec.ID)
	}
	ctr := runtime.Container{ID: spec.ID, Labels: maps.Clone(spec.Labels), HostIP: "127.0.0.1", IP: "127.0.0.1"}
	for _, p := range spec.Ports {
		ctr.Ports = append(ctr.Ports, runtime.PortMapping{ContainerPort: p, HostPort: r.hostPort})
	}
	r.containers[spec.ID] = &testContainer{ctr: ctr, procs: map[string]*testProcess{}}
	c := ctr
	return &c, nil
}

func (r *testRuntime) Run(_ context.Context, id string, spec runtime.ProcessSpec) (runtime.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	p := &testProcess{id: spec.ID, env: spec.Env, exited: make(chan struct{}), stdout: spec.Stdout}
	c.procs[spec.ID] = p
	return p, nil
}

func (r *testRuntime) Attach(_ context.Context, id, processID string, stdout, _ io.Writer) (runtime.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		if p, ok := c.procs[processID]; ok && !p.done() {
			p.stdout = stdout
			return p, nil
		}
	}
	return nil, runtime.ErrNotFound
}

func (r *testRuntime) Destroy(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		for _, p := range c.procs {
			p.exit(runtime.ExitStatus{Code: 137})
		}
		delete(r.containers, id)
	}
	return nil
}

func (r *testRuntime) List(context.Context) ([]*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtime.Container
	for _, c := range r.containers {
		ctr := c.ctr
		ctr.Processes = nil
		for id, p := range c.procs {
			if !p.done() {
				ctr.Processes = append(ctr.Processes, id)
			}
		}
		out = append(out, &ctr)
	}
	return out, nil
}

func (r *testRuntime) Metrics(context.Context, string) (runtime.Metrics, error) {
	return runtime.Metrics{}, nil
}

func (r *testRuntime) ReadFile(context.Context, string, string, int64) ([]byte, error) {
	return nil, runtime.ErrNotFound
}

func (r *testRuntime) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.containers))
}

func (r *testRuntime) process(id, processID string) *testProcess {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		return c.procs[processID]
	}
	return nil
}

// testProcess runs until SIGTERM, SIGKILL or its container's destruction.
type testProcess struct {
	id     string
	env    []string
	exited chan struct{}
	once   sync.Once
	status runtime.ExitStatus
	stdout io.Writer
}

func (p *testProcess) ID() string { return p.id }

func (p *testProcess) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.exited:
		return p.status, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (p *testProcess) Signal(_ context.Context, sig syscall.Signal) error {
	switch sig {
	case syscall.SIGTERM, syscall.SIGKILL:
		p.exit(runtime.ExitStatus{Code: 128 + int(sig)})
		return nil
	}
	return errors.New("unsupported signal")
}

func (p *testProcess) exit(st runtime.ExitStatus) {
	p.once.Do(func() {
		p.status = st
		close(p.exited)
	})
}

func (p *testProcess) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}
