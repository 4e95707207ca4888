package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// fakeRuntime is an in-memory runtime.Runtime for the executor's tests:
// containers are records, processes are fakeProcess values the test ends.
// Its state outlives an executor, so a second executor over it recovers
// what the first left.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	destroyed  []string
	// hostPort maps a container port to the host port the container
	// reports (0 when nil: the container port itself).
	hostPort func(port uint32) uint32
	// createErr, when set, fails Create.
	createErr error
	// onRun, when set, is called with every process started by Run.
	onRun func(*fakeProcess)
	// exitOnTerm makes processes exit (143) on SIGTERM.
	exitOnTerm bool
}

type fakeContainer struct {
	ctr   runtime.Container
	spec  runtime.ContainerSpec
	procs map[string]*fakeProcess
	files map[string][]byte
	usage runtime.Metrics
}

var _ runtime.Runtime = (*fakeRuntime)(nil)

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[string]*fakeContainer{}}
}

func (r *fakeRuntime) Available(context.Context) error                   { return nil }
func (r *fakeRuntime) EnsureStack(context.Context, string, string) error { return nil }
func (r *fakeRuntime) Cleanup(context.Context) error                     { return nil }

func (r *fakeRuntime) Create(_ context.Context, spec runtime.ContainerSpec) (*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.createErr != nil {
		return nil, r.createErr
	}
	if _, ok := r.containers[spec.ID]; ok {
		return nil, fmt.Errorf("container %s exists", spec.ID)
	}
	for _, tb := range spec.Tarballs {
		if _, err := readAll(tb.Path); err != nil {
			return nil, fmt.Errorf("tarball %s: %w", tb.Path, err)
		}
	}
	ctr := runtime.Container{ID: spec.ID, Labels: maps.Clone(spec.Labels), HostIP: "127.0.0.1", IP: "127.0.0.1"}
	for _, p := range spec.Ports {
		hp := p
		if r.hostPort != nil {
			hp = r.hostPort(p)
		}
		ctr.Ports = append(ctr.Ports, runtime.PortMapping{ContainerPort: p, HostPort: hp})
	}
	r.containers[spec.ID] = &fakeContainer{ctr: ctr, spec: spec, procs: map[string]*fakeProcess{}, files: map[string][]byte{}}
	c := ctr
	return &c, nil
}

func (r *fakeRuntime) Run(_ context.Context, id string, spec runtime.ProcessSpec) (runtime.Process, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	if !ok {
		r.mu.Unlock()
		return nil, runtime.ErrNotFound
	}
	p := &fakeProcess{id: spec.ID, spec: spec, exited: make(chan struct{}), exitOnTerm: r.exitOnTerm}
	p.out, p.err = spec.Stdout, spec.Stderr
	c.procs[spec.ID] = p
	hook := r.onRun
	r.mu.Unlock()
	if hook != nil {
		hook(p)
	}
	return p, nil
}

func (r *fakeRuntime) Attach(_ context.Context, id, processID string, stdout, stderr io.Writer) (runtime.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	p, ok := c.procs[processID]
	if !ok || p.hasExited() {
		return nil, runtime.ErrNotFound
	}
	p.mu.Lock()
	p.out, p.err = stdout, stderr
	p.mu.Unlock()
	return p, nil
}

func (r *fakeRuntime) Destroy(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil
	}
	for _, p := range c.procs {
		p.exit(runtime.ExitStatus{Code: 137})
	}
	delete(r.containers, id)
	r.destroyed = append(r.destroyed, id)
	return nil
}

func (r *fakeRuntime) List(context.Context) ([]*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtime.Container
	for _, c := range r.containers {
		ctr := c.ctr
		ctr.Labels = maps.Clone(c.ctr.Labels)
		ctr.Processes = nil
		for id, p := range c.procs {
			if !p.hasExited() {
				ctr.Processes = append(ctr.Processes, id)
			}
		}
		out = append(out, &ctr)
	}
	return out, nil
}

func (r *fakeRuntime) Metrics(_ context.Context, id string) (runtime.Metrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Metrics{}, runtime.ErrNotFound
	}
	return c.usage, nil
}

func (r *fakeRuntime) ReadFile(_ context.Context, id, path string, max int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	b, ok := c.files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, runtime.ErrNotFound)
	}
	if int64(len(b)) > max {
		b = b[:max]
	}
	return slices.Clone(b), nil
}

// container returns a copy of a container's record and spec, or false.
func (r *fakeRuntime) container(id string) (runtime.Container, runtime.ContainerSpec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return runtime.Container{}, runtime.ContainerSpec{}, false
	}
	return c.ctr, c.spec, true
}

// process returns a running process, or nil.
func (r *fakeRuntime) process(id, processID string) *fakeProcess {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		return c.procs[processID]
	}
	return nil
}

func (r *fakeRuntime) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.containers))
}

func (r *fakeRuntime) wasDestroyed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.destroyed, id)
}

func (r *fakeRuntime) destroyedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.destroyed)
}

func (r *fakeRuntime) setFile(id, path string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers[id].files[path] = b
}

func (r *fakeRuntime) setUsage(id string, m runtime.Metrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers[id].usage = m
}

// addContainer adds a container as if another rep had created it.
func (r *fakeRuntime) addContainer(ctr runtime.Container, procs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &fakeContainer{ctr: ctr, procs: map[string]*fakeProcess{}, files: map[string][]byte{}}
	for _, id := range procs {
		c.procs[id] = &fakeProcess{id: id, exited: make(chan struct{})}
	}
	r.containers[ctr.ID] = c
}

// fakeProcess is a process that runs until the test ends it.
type fakeProcess struct {
	id         string
	spec       runtime.ProcessSpec
	exitOnTerm bool
	exited     chan struct{}
	once       sync.Once
	status     runtime.ExitStatus

	mu      sync.Mutex
	signals []syscall.Signal
	out     io.Writer
	err     io.Writer
}

func (p *fakeProcess) ID() string { return p.id }

func (p *fakeProcess) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.exited:
		return p.status, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

func (p *fakeProcess) Signal(_ context.Context, sig syscall.Signal) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	p.mu.Unlock()
	switch {
	case sig == syscall.SIGKILL:
		p.exit(runtime.ExitStatus{Code: 137})
	case sig == syscall.SIGTERM && p.exitOnTerm:
		p.exit(runtime.ExitStatus{Code: 143})
	}
	return nil
}

// exit ends the process with st (once).
func (p *fakeProcess) exit(st runtime.ExitStatus) {
	p.once.Do(func() {
		st.ExitedAt = time.Now()
		p.status = st
		close(p.exited)
	})
}

func (p *fakeProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *fakeProcess) received() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signals)
}

// write writes to the process's stdout (or stderr).
func (p *fakeProcess) write(stderr bool, s string) {
	p.mu.Lock()
	w := p.out
	if stderr {
		w = p.err
	}
	p.mu.Unlock()
	if w != nil {
		io.WriteString(w, s)
	}
}

func readAll(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no path")
	}
	return os.ReadFile(path)
}
