// Package fake is an in-memory runtime.Runtime for unit tests of the rep:
// containers are records, and processes are driven by the test.
//
// # Processes
//
// A process started by Run is a *Proc. What it does depends on its
// Args[0]:
//
//   - a Program registered under that name (Register) runs in a goroutine
//     with the Proc; its return value is the exit code. Its ctx ends when
//     the process is killed (SIGKILL, OOM, Destroy), and it receives the
//     other signals on Proc.Signals.
//   - anything else is a manual process: it runs until the test ends it
//     with Exit or OOM, or it is signalled. SIGKILL ends it with 137; any
//     other signal ends it with 128+signal, unless Runtime.IgnoreSignals is
//     set (an app that ignores SIGTERM).
//
// The test finds a process with WaitProcess (which waits for Run) or
// Process, writes its output with Stdout and Stderr, and ends it:
//
//	rt := fake.New()
//	rt.Register("healthcheck", func(ctx context.Context, p *fake.Proc) int { return 0 })
//	... start the rep's code, which calls rt.Run(ctx, guid, ProcessSpec{ID: "app", ...}) ...
//	app, _ := rt.WaitProcess(ctx, guid, "app")
//	app.Stdout("listening\n")
//	app.Exit(1) // or app.OOM(), or let the code under test Signal it
//
// # Restarts
//
// The fake outlives the code under test, which is how a rep restart is
// simulated: Detach (the rep's Runtime closing) makes every process stop
// delivering output (it is kept, as a FIFO would) and keep its exit status
// when it exits; a new rep lists the containers and Attaches, which
// delivers the kept output and, for an exited process, its status. A
// process that exits while attached is removed from its container (as the
// containerd runtime deletes it), so a later Attach gets ErrNotFound.
//
// # Networking
//
// Like the containerd runtime in host networking, each container port gets
// a host port (from 61000 up) and the mapping's ContainerPort is that host
// port; IP is HostIP. With Bridge set, containers get an address of their
// own and keep their requested container ports.
//
// # Failures
//
// Fail queues an error for the next call of a method; Available returns
// AvailableErr.
package fake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Program is a registered process body. It returns the exit code; ctx ends
// when the process is killed, after which the return value is ignored.
type Program func(ctx context.Context, p *Proc) int

// Runtime is the fake. Set its exported fields before use.
type Runtime struct {
	// HostIP is every container's HostIP (default 127.0.0.1).
	HostIP string
	// Bridge gives containers their own IP (10.255.x.y) and keeps the
	// requested container ports, as bridge networking does.
	Bridge bool
	// IgnoreSignals makes manual processes survive every signal but
	// SIGKILL.
	IgnoreSignals bool
	// AvailableErr is what Available returns.
	AvailableErr error

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	stacks     map[string]string
	containers map[string]*container
	programs   map[string]Program
	failures   map[string][]error
	calls      map[string]int
	destroyed  []string
	nextPort   uint32
	nextIP     int
}

type container struct {
	spec    runtime.ContainerSpec
	info    runtime.Container
	procs   map[string]*Proc
	files   map[string][]byte
	metrics runtime.Metrics
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty fake.
func New() *Runtime {
	return &Runtime{
		HostIP:     "127.0.0.1",
		changed:    make(chan struct{}),
		stacks:     map[string]string{},
		containers: map[string]*container{},
		programs:   map[string]Program{},
		failures:   map[string][]error{},
		calls:      map[string]int{},
		nextPort:   61000,
	}
}

// Register makes processes whose Args[0] (or its base name) is name run
// prog.
func (r *Runtime) Register(name string, prog Program) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.programs[name] = prog
}

// Fail makes the next call of method (a runtime.Runtime method name, e.g.
// "Create") return err. Errors queue up, one per call.
func (r *Runtime) Fail(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[method] = append(r.failures[method], err)
}

// Calls returns how often method was called.
func (r *Runtime) Calls(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

// call counts a call and returns its queued failure. r.mu must be held.
func (r *Runtime) call(method string) error {
	r.calls[method]++
	q := r.failures[method]
	if len(q) == 0 {
		return nil
	}
	r.failures[method] = q[1:]
	return q[0]
}

// notify wakes WaitProcess. r.mu must be held.
func (r *Runtime) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Available returns AvailableErr.
func (r *Runtime) Available(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("Available"); err != nil {
		return err
	}
	return r.AvailableErr
}

// EnsureStack records the stack.
func (r *Runtime) EnsureStack(_ context.Context, name, dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("EnsureStack"); err != nil {
		return err
	}
	if _, ok := r.stacks[name]; !ok {
		r.stacks[name] = dir
	}
	return nil
}

// Create records the container; its stack must have been ensured.
func (r *Runtime) Create(_ context.Context, spec runtime.ContainerSpec) (*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("Create"); err != nil {
		return nil, err
	}
	if spec.ID == "" {
		return nil, errors.New("fake: create: empty id")
	}
	if _, ok := r.containers[spec.ID]; ok {
		return nil, fmt.Errorf("fake: create %s: already exists", spec.ID)
	}
	if _, ok := r.stacks[spec.Stack]; !ok {
		return nil, fmt.Errorf("fake: create %s: stack %q not found (EnsureStack first)", spec.ID, spec.Stack)
	}
	info := runtime.Container{ID: spec.ID, Labels: maps.Clone(spec.Labels), HostIP: r.HostIP, IP: r.HostIP}
	if r.Bridge {
		r.nextIP++
		info.IP = fmt.Sprintf("10.255.%d.%d", r.nextIP/250, r.nextIP%250+2)
	}
	for _, p := range spec.Ports {
		host := r.nextPort
		r.nextPort++
		m := runtime.PortMapping{ContainerPort: host, HostPort: host}
		if r.Bridge {
			m.ContainerPort = p
		}
		info.Ports = append(info.Ports, m)
	}
	spec.Labels = maps.Clone(spec.Labels)
	r.containers[spec.ID] = &container{spec: spec, info: info, procs: map[string]*Proc{}, files: map[string][]byte{}}
	r.notify()
	return cloneContainer(&info), nil
}

// Run starts a process: a registered Program, or a manual one.
func (r *Runtime) Run(_ context.Context, containerID string, spec runtime.ProcessSpec) (runtime.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("Run"); err != nil {
		return nil, err
	}
	c, ok := r.containers[containerID]
	if !ok {
		return nil, fmt.Errorf("fake: run %s in %s: %w", spec.ID, containerID, runtime.ErrNotFound)
	}
	if spec.ID == "" || len(spec.Args) == 0 {
		return nil, fmt.Errorf("fake: run in %s: no id or no args", containerID)
	}
	if name, _, _ := strings.Cut(spec.User, ":"); name == "root" || name == "0" {
		return nil, fmt.Errorf("fake: run %s in %s: user %q: running as root is refused", spec.ID, containerID, spec.User)
	}
	if _, ok := c.procs[spec.ID]; ok {
		return nil, fmt.Errorf("fake: run %s in %s: process already exists", spec.ID, containerID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{
		r: r, ContainerID: containerID, Spec: spec, Started: time.Now(),
		ctx: ctx, cancel: cancel,
		signals: make(chan syscall.Signal, 16),
		done:    make(chan struct{}),
		stdout:  spec.Stdout, stderr: spec.Stderr, attached: true,
	}
	p.Spec.Stdout, p.Spec.Stderr = nil, nil
	c.procs[spec.ID] = p
	prog := r.programs[spec.Args[0]]
	if prog == nil {
		prog = r.programs[spec.Args[0][strings.LastIndex(spec.Args[0], "/")+1:]]
	}
	r.notify()
	if prog != nil {
		go func() {
			code := prog(ctx, p)
			p.exit(runtime.ExitStatus{Code: code})
		}()
	}
	return &handle{p: p}, nil
}

// Attach reconnects to a process, delivering the output it wrote while
// detached and what it writes from now on to stdout and stderr.
func (r *Runtime) Attach(_ context.Context, containerID, processID string, stdout, stderr io.Writer) (runtime.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("Attach"); err != nil {
		return nil, err
	}
	c, ok := r.containers[containerID]
	if !ok {
		return nil, fmt.Errorf("fake: attach %s in %s: %w", processID, containerID, runtime.ErrNotFound)
	}
	p, ok := c.procs[processID]
	if !ok {
		return nil, fmt.Errorf("fake: attach %s in %s: %w", processID, containerID, runtime.ErrNotFound)
	}
	p.attach(stdout, stderr)
	if p.exited() {
		delete(c.procs, processID) // delivered: reaped, as the runtime does
	}
	return &handle{p: p}, nil
}

// Detach simulates the rep's Runtime closing: processes keep running, their
// output is kept for the next Attach, and processes that exit stay, with
// their status, until attached.
func (r *Runtime) Detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		for _, p := range c.procs {
			p.detach()
		}
	}
}

// Destroy kills the container's processes (exit 137) and removes it.
func (r *Runtime) Destroy(_ context.Context, containerID string) error {
	r.mu.Lock()
	if err := r.call("Destroy"); err != nil {
		r.mu.Unlock()
		return err
	}
	c, ok := r.containers[containerID]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	delete(r.containers, containerID)
	r.destroyed = append(r.destroyed, containerID)
	r.notify()
	r.mu.Unlock()
	for _, p := range c.procs {
		p.exit(runtime.ExitStatus{Code: 137})
	}
	return nil
}

// List returns the containers, sorted by id, with their running processes.
func (r *Runtime) List(context.Context) ([]*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("List"); err != nil {
		return nil, err
	}
	out := make([]*runtime.Container, 0, len(r.containers))
	for _, c := range r.containers {
		info := cloneContainer(&c.info)
		for id, p := range c.procs {
			if !p.exited() {
				info.Processes = append(info.Processes, id)
			}
		}
		slices.Sort(info.Processes)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b *runtime.Container) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Metrics returns what SetMetrics set (At defaults to now).
func (r *Runtime) Metrics(_ context.Context, containerID string) (runtime.Metrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("Metrics"); err != nil {
		return runtime.Metrics{}, err
	}
	c, ok := r.containers[containerID]
	if !ok {
		return runtime.Metrics{}, fmt.Errorf("fake: metrics of %s: %w", containerID, runtime.ErrNotFound)
	}
	m := c.metrics
	if m.At.IsZero() {
		m.At = time.Now()
	}
	if m.MemoryLimitBytes == 0 && c.spec.MemoryBytes > 0 {
		m.MemoryLimitBytes = uint64(c.spec.MemoryBytes)
	}
	return m, nil
}

// ReadFile returns up to max bytes of a file WriteFile (or Proc.WriteFile)
// wrote; fs.ErrNotExist for others.
func (r *Runtime) ReadFile(_ context.Context, containerID, path string, max int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.call("ReadFile"); err != nil {
		return nil, err
	}
	c, ok := r.containers[containerID]
	if !ok {
		return nil, fmt.Errorf("fake: read %s in %s: %w", path, containerID, runtime.ErrNotFound)
	}
	data, ok := c.files[path]
	if !ok {
		return nil, fmt.Errorf("fake: read %s in %s: %w", path, containerID, fs.ErrNotExist)
	}
	if int64(len(data)) > max {
		data = data[:max]
	}
	return bytes.Clone(data), nil
}

// Cleanup only counts its calls.
func (r *Runtime) Cleanup(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.call("Cleanup")
}

// SetMetrics sets what Metrics returns for a container.
func (r *Runtime) SetMetrics(containerID string, m runtime.Metrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[containerID]; ok {
		c.metrics = m
	}
}

// WriteFile puts a file into a container, for ReadFile.
func (r *Runtime) WriteFile(containerID, path string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[containerID]; ok {
		c.files[path] = bytes.Clone(data)
	}
}

// Spec returns the spec a container was created with.
func (r *Runtime) Spec(containerID string) (runtime.ContainerSpec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return runtime.ContainerSpec{}, false
	}
	return c.spec, true
}

// Destroyed returns the ids Destroy removed, in order.
func (r *Runtime) Destroyed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.destroyed)
}

// Process returns a container's process (running, or exited and not yet
// reaped), or nil.
func (r *Runtime) Process(containerID, processID string) *Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[containerID]; ok {
		return c.procs[processID]
	}
	return nil
}

// WaitProcess waits until Run starts processID in containerID and returns
// it, or until ctx ends.
func (r *Runtime) WaitProcess(ctx context.Context, containerID, processID string) (*Proc, error) {
	for {
		r.mu.Lock()
		var p *Proc
		if c, ok := r.containers[containerID]; ok {
			p = c.procs[processID]
		}
		changed := r.changed
		r.mu.Unlock()
		if p != nil {
			return p, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake: process %s in %s never started: %w", processID, containerID, ctx.Err())
		}
	}
}

// reap removes an exited, attached process from its container.
func (r *Runtime) reap(p *Proc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[p.ContainerID]; ok && c.procs[p.Spec.ID] == p {
		delete(c.procs, p.Spec.ID)
	}
	r.notify()
}

func cloneContainer(c *runtime.Container) *runtime.Container {
	out := *c
	out.Labels = maps.Clone(c.Labels)
	out.Ports = slices.Clone(c.Ports)
	out.Processes = slices.Clone(c.Processes)
	return &out
}

// Proc is a fake process.
type Proc struct {
	r           *Runtime
	ContainerID string
	// Spec is the ProcessSpec it was started with (without its writers).
	Spec    runtime.ProcessSpec
	Started time.Time

	ctx     context.Context
	cancel  context.CancelFunc
	signals chan syscall.Signal
	done    chan struct{}

	mu       sync.Mutex
	status   runtime.ExitStatus
	ended    bool
	received []syscall.Signal
	stdout   io.Writer
	stderr   io.Writer
	attached bool
	kept     []keptWrite // output written while detached
}

type keptWrite struct {
	stderr bool
	data   string
}

// Stdout writes s to the process's stdout.
func (p *Proc) Stdout(s string) { p.write(false, s) }

// Stderr writes s to the process's stderr.
func (p *Proc) Stderr(s string) { p.write(true, s) }

func (p *Proc) write(toStderr bool, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.attached {
		p.kept = append(p.kept, keptWrite{toStderr, s})
		return
	}
	w := p.stdout
	if toStderr {
		w = p.stderr
	}
	if w != nil {
		io.WriteString(w, s)
	}
}

// WriteFile writes a file into the process's container, for ReadFile.
func (p *Proc) WriteFile(path string, data []byte) {
	p.r.WriteFile(p.ContainerID, path, data)
}

// Exit ends the process with code.
func (p *Proc) Exit(code int) { p.exit(runtime.ExitStatus{Code: code}) }

// OOM ends the process as the OOM killer would: 137, OOMKilled.
func (p *Proc) OOM() { p.exit(runtime.ExitStatus{Code: 137, OOMKilled: true}) }

// Signals delivers the signals the process received, except SIGKILL (the
// last 16 unread ones).
func (p *Proc) Signals() <-chan syscall.Signal { return p.signals }

// Received returns every signal sent to the process, in order.
func (p *Proc) Received() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.received)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Status returns the exit status once the process has exited.
func (p *Proc) Status() (runtime.ExitStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.ended
}

func (p *Proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// exit records the first exit status and reaps the process if attached.
func (p *Proc) exit(st runtime.ExitStatus) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended = true
	st.ExitedAt = time.Now()
	p.status = st
	attached := p.attached
	p.mu.Unlock()
	if attached {
		p.r.reap(p) // before Wait returns
	}
	p.cancel()
	close(p.done)
}

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.received = append(p.received, sig)
	p.mu.Unlock()
	if sig == syscall.SIGKILL {
		p.exit(runtime.ExitStatus{Code: 128 + int(sig)})
		return
	}
	select {
	case p.signals <- sig:
	default:
	}
	p.r.mu.Lock()
	_, registered := p.r.programs[p.Spec.Args[0]]
	if !registered {
		_, registered = p.r.programs[p.Spec.Args[0][strings.LastIndex(p.Spec.Args[0], "/")+1:]]
	}
	ignore := p.r.IgnoreSignals
	p.r.mu.Unlock()
	if !registered && !ignore {
		p.exit(runtime.ExitStatus{Code: 128 + int(sig)})
	}
}

func (p *Proc) detach() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attached = false
	p.stdout, p.stderr = nil, nil
}

func (p *Proc) attach(stdout, stderr io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attached = true
	p.stdout, p.stderr = stdout, stderr
	for _, k := range p.kept {
		w := stdout
		if k.stderr {
			w = stderr
		}
		if w != nil {
			io.WriteString(w, k.data)
		}
	}
	p.kept = nil
}

// handle is the runtime.Process a caller gets from Run or Attach.
type handle struct {
	p *Proc
}

func (h *handle) ID() string { return h.p.Spec.ID }

func (h *handle) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-h.p.done:
		st, _ := h.p.Status()
		return st, nil
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

// Signal sends sig; signalling an exited process is not an error.
func (h *handle) Signal(_ context.Context, sig syscall.Signal) error {
	h.p.signal(sig)
	return nil
}

// String names the process in test failures.
func (p *Proc) String() string {
	return p.ContainerID + "/" + p.Spec.ID + " (" + strconv.Quote(strings.Join(p.Spec.Args, " ")) + ")"
}
