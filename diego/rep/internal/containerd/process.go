package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	apitasks "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

const (
	// drainTimeout bounds the wait for a process's output after it
	// exited: a child it left behind may hold its stdout open.
	drainTimeout = 2 * time.Second
	// exitKilled is the exit status of a process killed by SIGKILL (the
	// OOM killer's signal).
	exitKilled = 128 + int(syscall.SIGKILL)
)

// Run starts spec as an exec'd process in container containerID, as the
// spec's user (vcap unless it names another; never root), with its output
// copied to spec.Stdout and spec.Stderr through FIFOs in the state
// directory, which outlive the rep process for Attach.
func (r *Runtime) Run(ctx context.Context, containerID string, spec runtime.ProcessSpec) (runtime.Process, error) {
	if r.base.Err() != nil {
		return nil, ErrClosed
	}
	if err := identifiers.Validate(spec.ID); err != nil {
		return nil, fmt.Errorf("run %s in %s: invalid process id: %w", spec.ID, containerID, err)
	}
	if spec.ID == containerID {
		return nil, fmt.Errorf("run %s in %s: the process id must differ from the container id", spec.ID, containerID)
	}
	if len(spec.Args) == 0 {
		return nil, fmt.Errorf("run %s in %s: no args", spec.ID, containerID)
	}
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("run %s in %s: %w", spec.ID, containerID, err)
	}
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return nil, notFound(err, "run "+spec.ID+" in "+containerID)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return nil, notFound(err, "run "+spec.ID+" in "+containerID+": init")
	}
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return nil, fmt.Errorf("run %s in %s: %w", spec.ID, containerID, err)
	}
	var cspec specs.Spec
	if err := json.Unmarshal(info.Spec.GetValue(), &cspec); err != nil || cspec.Process == nil {
		return nil, fmt.Errorf("run %s in %s: container spec: %v", spec.ID, containerID, err)
	}
	user, err := r.resolveUser(task.Pid(), spec.User)
	if err != nil {
		return nil, fmt.Errorf("run %s in %s: %w", spec.ID, containerID, err)
	}
	pspec := execSpec(cspec.Process, spec, user, r.cfg.DefaultNoFile)
	base := r.oomBaseline(ctx, task, info.Labels)

	// FIFOs created here are unknown to the shim until Exec returns:
	// keep Cleanup from sweeping them meanwhile.
	r.fifoMu.RLock()
	defer r.fifoMu.RUnlock()
	proc, err := task.Exec(ctx, spec.ID, pspec, r.ioCreator(spec.Stdout, spec.Stderr))
	if err != nil {
		return nil, fmt.Errorf("run %s in %s: %w", spec.ID, containerID, err)
	}
	p := r.newProcess(containerID, proc, base)
	// Wait before Start, or a fast exit is missed.
	exitC, err := proc.Wait(p.ctx)
	if err == nil {
		err = proc.Start(ctx)
	}
	if err != nil {
		p.cancel()
		if _, derr := proc.Delete(context.WithoutCancel(ctx)); derr != nil && !errdefs.IsNotFound(derr) {
			r.log.Warn("delete exec that failed to start", "container", containerID, "process", spec.ID, "error", derr)
		}
		return nil, fmt.Errorf("run %s in %s: start: %w", spec.ID, containerID, err)
	}
	if err := r.track(p); err != nil {
		p.cancel()
		return nil, err
	}
	r.wg.Go(func() { p.run(exitC) })
	return p, nil
}

// Attach reconnects to process processID in container containerID,
// started by Run of an earlier Runtime (a rep before its restart). Output
// the process writes from now on goes to stdout and stderr. A process that
// has exited since is attached without output; its Wait returns its exit
// status. OOMKilled is judged from every OOM kill in the container's
// life, not only those after the process started.
func (r *Runtime) Attach(ctx context.Context, containerID, processID string, stdout, stderr io.Writer) (runtime.Process, error) {
	if r.base.Err() != nil {
		return nil, ErrClosed
	}
	if processID == containerID {
		return nil, fmt.Errorf("attach %s in %s: not a process started by Run", processID, containerID)
	}
	r.mu.Lock()
	attached := r.procs[containerID][processID] != nil
	r.mu.Unlock()
	if attached {
		return nil, fmt.Errorf("attach %s in %s: %w", processID, containerID, ErrAttached)
	}
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return nil, notFound(err, "attach "+processID+" in "+containerID)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return nil, notFound(err, "attach "+processID+" in "+containerID+": init")
	}
	resp, err := r.client.TaskService().Get(ctx, &apitasks.GetRequest{ContainerID: containerID, ExecID: processID})
	if err = errgrpc.ToNative(err); err != nil {
		return nil, notFound(err, "attach "+processID+" in "+containerID)
	}
	var attach cio.Attach
	exited := resp.GetProcess().GetStatus() == tasktypes.Status_STOPPED
	if !exited && (stdout != nil || stderr != nil) {
		stdout, stderr = lockWriters(stdout, stderr)
		attach = cio.NewAttach(cio.WithStreams(nil, stdout, stderr))
	}
	proc, err := task.LoadProcess(ctx, processID, attach)
	if err != nil {
		return nil, notFound(err, "attach "+processID+" in "+containerID)
	}
	p := r.newProcess(containerID, proc, oomBaseline{})
	if attach == nil {
		// Nobody opens the FIFOs; remove them with the process.
		p.fifoDirs = r.ownFIFODirs(resp.GetProcess().GetStdout(), resp.GetProcess().GetStderr())
	}
	exitC, err := proc.Wait(p.ctx)
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("attach %s in %s: %w", processID, containerID, err)
	}
	if err := r.track(p); err != nil {
		p.cancel()
		return nil, err
	}
	r.wg.Go(func() { p.run(exitC) })
	return p, nil
}

// ioCreator makes the FIFOs that carry a process's output.
func (r *Runtime) ioCreator(stdout, stderr io.Writer) cio.Creator {
	if stdout == nil && stderr == nil {
		return cio.NullIO
	}
	stdout, stderr = lockWriters(stdout, stderr)
	return cio.NewCreator(cio.WithStreams(nil, stdout, stderr), cio.WithFIFODir(r.dirs.fifo()))
}

// ownFIFODirs returns the directories of the FIFO paths that lie in the
// cell's FIFO directory.
func (r *Runtime) ownFIFODirs(paths ...string) []string {
	var dirs []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		d := filepath.Dir(p)
		if filepath.Dir(d) == r.dirs.fifo() && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// lockWriters makes writes to stdout and stderr, which cio copies from
// two goroutines, take turns, so one writer may serve both.
func lockWriters(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	mu := &sync.Mutex{}
	if stdout != nil {
		stdout = &lockedWriter{mu: mu, w: stdout}
	}
	if stderr != nil {
		stderr = &lockedWriter{mu: mu, w: stderr}
	}
	return stdout, stderr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// execSpec is the OCI process of an exec: the container's own, with the
// spec's command, environment and directory, the user, no capabilities
// but the bounding set, and the open-file limit.
func execSpec(base *specs.Process, spec runtime.ProcessSpec, u user, defaultNoFile uint64) *specs.Process {
	p := *base
	p.Terminal = false
	p.ConsoleSize = nil
	p.Args = slices.Clone(spec.Args)
	p.Env = slices.Clone(spec.Env)
	if !hasEnv(p.Env, "PATH") {
		p.Env = append(p.Env, "PATH="+defaultPath)
	}
	if !hasEnv(p.Env, "HOME") && u.home != "" {
		p.Env = append(p.Env, "HOME="+u.home)
	}
	p.Cwd = spec.Dir
	if p.Cwd == "" {
		p.Cwd = u.home
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	p.User = specs.User{UID: u.uid, GID: u.gid, AdditionalGids: []uint32{u.gid}}
	p.NoNewPrivileges = true
	if base.Capabilities != nil {
		p.Capabilities = &specs.LinuxCapabilities{Bounding: slices.Clone(base.Capabilities.Bounding)}
	}
	nofile := spec.NoFile
	if nofile == 0 {
		nofile = defaultNoFile
	}
	p.Rlimits = slices.DeleteFunc(slices.Clone(base.Rlimits), func(l specs.POSIXRlimit) bool { return l.Type == "RLIMIT_NOFILE" })
	p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile})
	return &p
}

func hasEnv(env []string, name string) bool {
	return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}

// process is a process started by Run or found by Attach. Its run
// goroutine waits for the exit, lets the output drain, works out whether
// the OOM killer ended it, and deletes it from the shim.
type process struct {
	r           *Runtime
	containerID string
	proc        client.Process
	base        oomBaseline
	// ctx ends when the Runtime closes (or the start fails).
	ctx      context.Context
	cancel   context.CancelFunc
	fifoDirs []string

	done   chan struct{}
	status runtime.ExitStatus
	err    error
}

var _ runtime.Process = (*process)(nil)

func (r *Runtime) newProcess(containerID string, proc client.Process, base oomBaseline) *process {
	ctx, cancel := context.WithCancel(r.base)
	return &process{r: r, containerID: containerID, proc: proc, base: base, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

func (r *Runtime) track(p *process) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base.Err() != nil {
		return ErrClosed
	}
	ps := r.procs[p.containerID]
	if ps == nil {
		ps = map[string]*process{}
		r.procs[p.containerID] = ps
	}
	ps[p.proc.ID()] = p
	return nil
}

func (r *Runtime) untrack(p *process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ps := r.procs[p.containerID]; ps[p.proc.ID()] == p {
		delete(ps, p.proc.ID())
		if len(ps) == 0 {
			delete(r.procs, p.containerID)
		}
	}
}

// processes returns the tracked processes of a container.
func (r *Runtime) processes(containerID string) []*process {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []*process
	for _, p := range r.procs[containerID] {
		ps = append(ps, p)
	}
	return ps
}

func (p *process) ID() string { return p.proc.ID() }

// Wait returns the exit status once the process exited and its output was
// copied. It returns ErrClosed if the Runtime was closed first, and an
// error wrapping runtime.ErrNotFound if the process vanished without an
// exit status (its shim died).
func (p *process) Wait(ctx context.Context) (runtime.ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
}

// Signal sends sig to the process. Signalling a process that has exited
// is not an error.
func (p *process) Signal(ctx context.Context, sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := p.proc.Kill(p.r.ctx(ctx), sig)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("signal %s in %s: %w", p.ID(), p.containerID, err)
	}
	return nil
}

// detach stops copying output without closing the FIFOs, for the next
// Runtime to reattach.
func (p *process) detach() {
	p.cancel()
	if pio := p.proc.IO(); pio != nil {
		pio.Cancel()
	}
}

func (p *process) run(exitC <-chan client.ExitStatus) {
	defer close(p.done)
	defer p.r.untrack(p)
	es, err := p.waitExit(exitC)
	if err != nil {
		p.err = err
		if errors.Is(err, ErrClosed) {
			return // detached: the FIFOs stay for the next Runtime
		}
		p.closeIO()
		return
	}
	code := int(es.ExitCode())
	p.status = runtime.ExitStatus{Code: code, ExitedAt: es.ExitTime()}
	if code == exitKilled {
		p.status.OOMKilled = p.r.oomKilled(p.ctx, p.containerID, p.base)
	}
	p.drain()
	if p.ctx.Err() != nil {
		return // detached while draining; the exit stays in the shim
	}
	dctx, cancel := context.WithTimeout(p.r.ctx(context.Background()), 30*time.Second)
	defer cancel()
	if _, err := p.proc.Delete(dctx); err != nil {
		if !errdefs.IsNotFound(err) {
			p.r.log.Warn("delete exited process", "container", p.containerID, "process", p.ID(), "error", err)
		}
		p.closeIO()
	}
	for _, d := range p.fifoDirs {
		os.RemoveAll(d)
	}
}

// waitExit waits for the exit status, waiting again after errors of the
// connection to containerd (it restarting, say).
func (p *process) waitExit(exitC <-chan client.ExitStatus) (client.ExitStatus, error) {
	delay := 100 * time.Millisecond
	for {
		es := <-exitC
		err := es.Error()
		if err == nil {
			return es, nil
		}
		if p.ctx.Err() != nil {
			return es, ErrClosed
		}
		if errdefs.IsNotFound(err) {
			return es, fmt.Errorf("process %s in %s lost: %w", p.ID(), p.containerID, runtime.ErrNotFound)
		}
		p.r.log.Warn("wait for process", "container", p.containerID, "process", p.ID(), "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return es, ErrClosed
		}
		delay = min(2*delay, 5*time.Second)
		if exitC, err = p.proc.Wait(p.ctx); err != nil {
			return es, err
		}
	}
}

// drain waits, boundedly, for the output copy to reach the end.
func (p *process) drain() {
	pio := p.proc.IO()
	if pio == nil {
		return
	}
	copied := make(chan struct{})
	go func() {
		pio.Wait()
		close(copied)
	}()
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-copied:
	case <-t.C:
	case <-p.ctx.Done():
	}
}

// closeIO stops the output copy and removes the FIFOs.
func (p *process) closeIO() {
	if pio := p.proc.IO(); pio != nil {
		pio.Cancel()
		pio.Close()
	}
	for _, d := range p.fifoDirs {
		os.RemoveAll(d)
	}
}
