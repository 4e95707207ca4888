package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process states reported by status.
const (
	StateStarting = "starting"
	StateReady    = "ready"
	StateCrashed  = "crashed" // exited; waiting to restart
	StateStopping = "stopping"
	StateStopped  = "stopped"
)

// process supervises one daemon's OS process: it starts it, restarts it
// with capped exponential backoff when it exits, tracks readiness through
// its ops /readyz and stops it with SIGTERM then SIGKILL.
type process struct {
	name     string
	bin      string
	args     []string
	logPath  string
	pidPath  string
	readyURL string
	stopWait time.Duration
	logger   *slog.Logger

	mu       sync.Mutex
	pid      int
	state    string
	restarts int
	lastExit string
	ready    chan struct{} // closed when first ready
	readyOne sync.Once
	done     chan struct{} // closed when supervise returns
}

// Backoff bounds for restarts. A process that stayed up for resetAfter
// starts again from minBackoff.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	resetAfter = time.Minute
)

func newProcess(name, bin string, args []string, logPath, pidPath, readyURL string, stopWait time.Duration, logger *slog.Logger) *process {
	return &process{
		name: name, bin: bin, args: args, logPath: logPath, pidPath: pidPath, readyURL: readyURL,
		stopWait: stopWait, logger: logger.With("daemon", name),
		state: StateStarting, ready: make(chan struct{}), done: make(chan struct{}),
	}
}

// ProcessStatus is one daemon's line in `anvil dev status`.
type ProcessStatus struct {
	Name     string `json:"name"`
	Pid      int    `json:"pid"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	LastExit string `json:"last_exit,omitempty"`
	Log      string `json:"log"`
}

func (p *process) status() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProcessStatus{Name: p.name, Pid: p.pid, State: p.state, Restarts: p.restarts, LastExit: p.lastExit, Log: p.logPath}
}

func (p *process) setState(s string) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

// supervise runs the process until ctx is cancelled, then stops it.
func (p *process) supervise(ctx context.Context) {
	defer close(p.done)
	backoff := minBackoff
	for {
		started := time.Now()
		cmd, err := p.start()
		if err != nil {
			p.logger.Error("start failed", "err", err)
			p.mu.Lock()
			p.state, p.lastExit = StateCrashed, err.Error()
			p.mu.Unlock()
		} else {
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			readyCtx, cancelReady := context.WithCancel(ctx)
			go p.watchReady(readyCtx)
			select {
			case err := <-exited:
				cancelReady()
				p.recordExit(err)
			case <-ctx.Done():
				cancelReady()
				p.stop(cmd, exited)
				return
			}
		}
		if time.Since(started) > resetAfter {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			p.setState(StateStopped)
			return
		}
		backoff = min(backoff*2, maxBackoff)
		p.mu.Lock()
		p.restarts++
		p.state = StateStarting
		p.mu.Unlock()
	}
}

func (p *process) start() (*exec.Cmd, error) {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches only the
	// launcher, which then stops the daemons in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.bin, err)
	}
	p.mu.Lock()
	p.pid = cmd.Process.Pid
	p.state = StateStarting
	p.mu.Unlock()
	_ = os.WriteFile(p.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+p.bin+"\n"), 0o644)
	p.logger.Info("started", "pid", cmd.Process.Pid)
	return cmd, nil
}

func (p *process) recordExit(err error) {
	msg := "exited with status 0"
	if err != nil {
		msg = err.Error()
	}
	p.logger.Warn("exited; restarting", "exit", msg)
	p.mu.Lock()
	p.state, p.lastExit, p.pid = StateCrashed, msg, 0
	p.mu.Unlock()
	_ = os.Remove(p.pidPath)
}

// watchReady polls /readyz until it answers 200, then marks the process
// ready.
func (p *process) watchReady(ctx context.Context) {
	client := &http.Client{Timeout: 2 * time.Second}
	delay := 20 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.readyURL, nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.mu.Lock()
				if p.state == StateStarting {
					p.state = StateReady
				}
				p.mu.Unlock()
				p.readyOne.Do(func() { close(p.ready) })
				return
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// stop sends SIGTERM to the process group, waits up to stopWait, then
// SIGKILLs the group.
func (p *process) stop(cmd *exec.Cmd, exited <-chan error) {
	p.setState(StateStopping)
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(p.stopWait)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		p.logger.Warn("did not stop in time; killing", "timeout", p.stopWait)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	// Anything else left in its group (a child it spawned) goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	p.mu.Lock()
	p.state, p.pid = StateStopped, 0
	p.mu.Unlock()
	_ = os.Remove(p.pidPath)
	p.logger.Info("stopped")
}

// waitReady waits until the process first becomes ready, or timeout.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return errors.New("supervisor stopped")
	case <-t.C:
		st := p.status()
		msg := fmt.Sprintf("%s not ready after %s (state %s", p.name, timeout, st.State)
		if st.LastExit != "" {
			msg += ", last exit: " + st.LastExit
		}
		return fmt.Errorf("%s); see %s", msg, p.logPath)
	}
}

// killPidFile stops a daemon left behind by a launcher that died. The pid
// file holds the pid and the binary; the process is killed only if it still
// runs that binary, so a reused pid is never hit.
func killPidFile(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	defer os.Remove(path)
	lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
	if len(lines) != 2 {
		return
	}
	pid, err := strconv.Atoi(lines[0])
	if err != nil || pid <= 1 {
		return
	}
	if exe, err := os.Readlink("/proc/" + lines[0] + "/exe"); err != nil || exe != lines[1] {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
