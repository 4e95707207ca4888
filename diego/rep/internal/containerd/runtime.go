package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	apiintro "github.com/containerd/containerd/api/services/introspection/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

const (
	snapshotter = "overlayfs"
	runcRuntime = "io.containerd.runc.v2"
	// availableTimeout bounds the daemon checks of Available.
	availableTimeout = 2 * time.Second
)

var _ runtime.Runtime = (*Runtime)(nil)

// Runtime is the containerd implementation of runtime.Runtime. It is safe
// for concurrent use. Close it to detach from running processes.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	client *client.Client
	net    network
	ports  *portAllocator
	dirs   stateDirs
	// memsw is whether the host accounts swap (memory.memsw.* exist), so
	// a memory limit can include swap.
	memsw bool

	// base is cancelled by Close; background work (process waiters, the
	// OOM watcher) runs under it.
	base      context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	locks keyedMutex
	// stacks maps a stack name to its snapshot key (see EnsureStack).
	stacks sync.Map

	mu sync.Mutex
	// procs are the processes this instance started or attached to and
	// has not yet seen exit, by container then process id.
	procs map[string]map[string]*process
	// ooms counts the OOM kills seen per container (from /tasks/oom).
	ooms map[string]int
	// busy holds container ids and snapshot keys being created, so that
	// Cleanup leaves them alone.
	busy map[string]int
	// setupDone records that the state directories exist and the port
	// allocator knows the ports of existing containers.
	setupDone bool
	// fifoMu is held for reading while a process's FIFOs exist but the
	// shim does not know them yet, and for writing while Cleanup sweeps.
	fifoMu sync.RWMutex
	// mntMu is held for reading while a temporary mount exists, and for
	// writing while Cleanup sweeps mnt/.
	mntMu sync.RWMutex
}

// New returns a runtime for the cell described by cfg (Defaults and
// Validate must have been applied; New validates again). It does not
// contact containerd: call Available to check that the runtime can work.
func New(cfg Config, logger *slog.Logger) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("containerd runtime config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "containerd-runtime", "namespace", cfg.Namespace)
	c, err := client.New(cfg.Socket, client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd client: %w", err)
	}
	base, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	r := &Runtime{
		cfg:    cfg,
		log:    logger,
		client: c,
		dirs:   stateDirs(cfg.StateDir),
		base:   base,
		cancel: cancel,
		procs:  map[string]map[string]*process{},
		ooms:   map[string]int{},
		busy:   map[string]int{},
	}
	r.ports = newPortAllocator(cfg.PortRange.Min, cfg.PortRange.Max)
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		r.memsw = true
	}
	switch cfg.Network.Mode {
	case NetworkBridge:
		r.net, err = newBridgeNetwork(cfg, r.dirs)
		if err != nil {
			c.Close()
			cancel()
			return nil, err
		}
	default:
		r.net = hostNetwork{hostIP: cfg.HostIP}
	}
	r.wg.Go(r.watchOOM)
	return r, nil
}

// Close detaches from the running processes and containerd, leaving the
// containers running: a new Runtime on the same namespace and state
// directory finds them with List and reattaches with Attach. Output
// written while no Runtime is attached waits in the FIFOs (until they
// fill, when the process blocks on writing).
func (r *Runtime) Close() error {
	r.closeOnce.Do(r.close)
	return r.closeErr
}

func (r *Runtime) close() {
	r.cancel()
	r.mu.Lock()
	var detach []*process
	for _, ps := range r.procs {
		for _, p := range ps {
			detach = append(detach, p)
		}
	}
	r.mu.Unlock()
	for _, p := range detach {
		p.detach()
	}
	r.wg.Wait()
	r.closeErr = r.client.Close()
}

// ctx adds the cell's namespace to ctx.
func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// Available checks, in order, that the rep runs as root, the init binary
// (and in bridge mode the CNI plugins and iptables) are installed, and
// containerd answers on the socket with a working overlayfs snapshotter.
// Every problem found is reported, each naming what is missing.
func (r *Runtime) Available(ctx context.Context) error {
	if r.base.Err() != nil {
		return ErrClosed
	}
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("containerd runtime: must run as root (euid is %d)", euid)
	}
	var errs []error
	if err := checkExecutable(r.cfg.InitPath); err != nil {
		errs = append(errs, fmt.Errorf("init binary (catatonit) not usable at %s: %w", r.cfg.InitPath, err))
	}
	if r.cfg.Network.Mode == NetworkBridge {
		for _, plugin := range cniPlugins {
			path := filepath.Join(r.cfg.Network.CNIBinDir, plugin)
			if err := checkExecutable(path); err != nil {
				errs = append(errs, fmt.Errorf("CNI plugin %s not usable at %s: %w (apt-get install containernetworking-plugins)", plugin, path, err))
			}
		}
		if _, err := exec.LookPath("iptables"); err != nil {
			errs = append(errs, fmt.Errorf("iptables not found in PATH (needed by the CNI portmap plugin): %w", err))
		}
	}
	if err := r.checkDaemon(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *Runtime) checkDaemon(ctx context.Context) error {
	sock := r.cfg.Socket
	// Without this check a missing socket costs the whole dial timeout and
	// ends in an unhelpful "context deadline exceeded".
	if _, err := os.Stat(sock); err != nil {
		return fmt.Errorf("containerd socket not found at %s", sock)
	}
	ctx, cancel := context.WithTimeout(r.ctx(ctx), availableTimeout)
	defer cancel()
	if _, err := r.client.Version(ctx); err != nil {
		return fmt.Errorf("containerd at %s does not answer within %v: %w", sock, availableTimeout, err)
	}
	resp, err := r.client.IntrospectionService().Plugins(ctx, `type=="io.containerd.snapshotter.v1"`, `id==`+snapshotter)
	if err != nil {
		return fmt.Errorf("containerd at %s: list plugins: %w", sock, err)
	}
	var found *apiintro.Plugin
	for _, p := range resp.GetPlugins() {
		if p.GetID() == snapshotter {
			found = p
		}
	}
	switch {
	case found == nil:
		return fmt.Errorf("containerd at %s has no %s snapshotter plugin", sock, snapshotter)
	case found.GetInitErr() != nil:
		return fmt.Errorf("containerd at %s: %s snapshotter failed to load: %s", sock, snapshotter, found.GetInitErr().GetMessage())
	}
	return nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// setup makes the state directories and loads the host ports of existing
// containers into the allocator, once.
func (r *Runtime) setup(ctx context.Context) error {
	r.mu.Lock()
	done := r.setupDone
	r.mu.Unlock()
	if done {
		return nil
	}
	if err := r.dirs.make(); err != nil {
		return err
	}
	cs, err := r.list(ctx)
	if err != nil {
		return fmt.Errorf("load existing containers: %w", err)
	}
	recs, err := r.dirs.records()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.setupDone {
		return nil
	}
	for _, c := range cs {
		r.ports.reserve(c.ID, c.Ports)
	}
	for _, rec := range recs {
		r.ports.reserve(rec.ID, rec.Ports)
	}
	r.setupDone = true
	return nil
}

// markBusy records that key is being created until the returned func runs.
func (r *Runtime) markBusy(keys ...string) func() {
	r.mu.Lock()
	for _, k := range keys {
		r.busy[k]++
	}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		for _, k := range keys {
			if r.busy[k]--; r.busy[k] <= 0 {
				delete(r.busy, k)
			}
		}
		r.mu.Unlock()
	}
}

func (r *Runtime) isBusy(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.busy[key] > 0
}

// notFound maps containerd's not-found errors to runtime.ErrNotFound.
func notFound(err error, what string) error {
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, runtime.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// keyedMutex serialises operations on one container id.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
