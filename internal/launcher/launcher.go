package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/anvilpaas/anvil/internal/natsembed"
	"github.com/anvilpaas/anvil/internal/pgserver"
)

// Phases reported by status while Up starts the platform.
const (
	PhasePreflight = "preflight"
	PhasePostgres  = "postgres"
	PhaseNATS      = "nats"
	PhaseReady     = "ready"
	PhaseStopping  = "stopping"
)

// ErrAlreadyRunning is returned by Up when another launcher owns the state
// dir.
var ErrAlreadyRunning = errors.New("a platform is already running from this state dir")

// Launcher is one `anvil dev up` run.
type Launcher struct {
	opts     Options
	layout   layout
	logger   *slog.Logger
	progress io.Writer

	mu        sync.Mutex
	phase     string
	procs     []*process
	pg        *pgserver.Server
	nats      *natsembed.Server
	endpoints *Endpoints
	down      chan struct{}
	downOnce  sync.Once
}

// New returns a launcher. Progress lines for a person go to progress; the
// structured log goes to logger.
func New(opts Options, logger *slog.Logger, progress io.Writer) *Launcher {
	opts.defaults()
	return &Launcher{
		opts: opts, layout: layout{opts.StateDir}, logger: logger, progress: progress,
		phase: PhasePreflight, down: make(chan struct{}),
	}
}

func (l *Launcher) setPhase(p string) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

func (l *Launcher) step(format string, args ...any) func(err error) {
	start := time.Now()
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(l.progress, "==> %s ...\n", msg)
	return func(err error) {
		if err != nil {
			fmt.Fprintf(l.progress, "    FAILED: %v\n", err)
			return
		}
		fmt.Fprintf(l.progress, "    ok (%s)\n", time.Since(start).Round(time.Millisecond))
	}
}

// Run starts the platform and supervises it until ctx is cancelled or
// `anvil dev down` is asked. It returns nil after a clean shutdown. On a
// start-up failure it stops what it started and returns the error.
func (l *Launcher) Run(ctx context.Context) (err error) {
	o := l.opts
	if err := o.validate(); err != nil {
		return err
	}
	done := l.step("checking the machine")
	bins, err := l.preflight()
	done(err)
	if err != nil {
		return err
	}

	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Everything started below is stopped, in reverse order, on return.
	var stops []func()
	defer func() {
		l.setPhase(PhaseStopping)
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		_ = os.Remove(l.layout.endpointsFile())
	}()

	ctl, err := l.serveControl()
	if err != nil {
		return err
	}
	stops = append(stops, func() { ctl.Close() })

	st, err := loadState(l.layout)
	if err != nil {
		return err
	}
	sec, err := loadSecrets(l.layout)
	if err != nil {
		return err
	}
	pgPort, err := st.port("postgres")
	if err != nil {
		return err
	}
	natsPort, err := st.port("nats")
	if err != nil {
		return err
	}
	for _, d := range o.Daemons {
		if _, ok := bins[d.Name]; !ok {
			continue
		}
		for _, p := range d.ports() {
			if _, err := st.port(d.Name + "/" + p); err != nil {
				return err
			}
		}
	}
	pgDir, err := st.postgresDir(l.layout)
	if err != nil {
		return err
	}
	natsPassword := st.secret("nats_password")
	_ = st.secret("admin_password")
	if err := st.save(l.layout); err != nil {
		return err
	}

	// Postgres. A cluster left running by a launcher that was killed is
	// stopped first (the lock proves no launcher owns it).
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); err == nil {
		if err := pgserver.StopDataDir(ctx, pgDir); err != nil {
			l.logger.Warn("stop leftover postgres", "err", err)
		}
	}
	l.setPhase(PhasePostgres)
	done = l.step("starting Postgres on 127.0.0.1:%d", pgPort)
	pg, err := pgserver.Start(ctx, pgserver.Config{
		BinDir:  o.PGBinDir,
		DataDir: pgDir,
		Port:    pgPort,
		LogFile: l.layout.logFile("postgres"),
	}, l.logger.With("service", "postgres"))
	done(err)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	stops = append(stops, func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		if err := pg.Stop(sctx); err != nil {
			l.logger.Error("stop postgres", "err", err)
		}
	})
	l.mu.Lock()
	l.pg = pg
	l.mu.Unlock()
	for _, d := range o.Daemons {
		if _, ok := bins[d.Name]; !ok {
			continue
		}
		for _, db := range d.Databases {
			if err := pg.CreateDatabase(ctx, db); err != nil {
				return fmt.Errorf("create database %s: %w", db, err)
			}
		}
	}

	// NATS.
	l.setPhase(PhaseNATS)
	done = l.step("starting NATS on 127.0.0.1:%d", natsPort)
	ns, err := natsembed.Start(ctx, natsembed.Config{Port: natsPort, User: "anvil", Password: natsPassword}, l.logger.With("service", "nats"))
	done(err)
	if err != nil {
		return fmt.Errorf("start nats: %w", err)
	}
	stops = append(stops, ns.Shutdown)
	l.mu.Lock()
	l.nats = ns
	l.mu.Unlock()

	env := &Env{opts: o, st: st, sec: sec, pgPort: pg.Port(), layout: l.layout,
		natsURL: "nats://anvil:" + natsPassword + "@127.0.0.1:" + strconv.Itoa(ns.Port())}

	// Daemons, in order, each ready before the next starts.
	var running []string
	for _, d := range o.Daemons {
		bin, ok := bins[d.Name]
		if !ok {
			continue
		}
		l.setPhase(d.Name)
		done = l.step("starting %s", d.Name)
		p, stop, err := l.startDaemon(env, d, bin)
		if stop != nil {
			stops = append(stops, stop)
		}
		if err == nil {
			err = p.waitReady(ctx, o.ReadyTimeout)
		}
		done(err)
		if err != nil {
			return fmt.Errorf("start %s: %w", d.Name, err)
		}
		running = append(running, d.Name)
	}

	ep := endpointsFor(env)
	if err := st.save(l.layout); err != nil {
		return err
	}
	if err := writeEndpoints(l.layout.endpointsFile(), ep); err != nil {
		return err
	}
	l.mu.Lock()
	l.endpoints = &ep
	l.mu.Unlock()
	// Instructions go out before the phase flips: Detach stops copying
	// output once it sees the ready phase.
	fmt.Fprintf(l.progress, "\n%s", Instructions(ep, o.StateDir, running))
	l.setPhase(PhaseReady)
	l.logger.Info("platform ready", "daemons", running)

	select {
	case <-ctx.Done():
	case <-l.down:
	}
	fmt.Fprintln(l.progress, "==> stopping")
	l.logger.Info("stopping")
	return nil
}

// startDaemon renders d's config and starts its supervised process. The
// returned stop function stops it and waits until it has exited.
func (l *Launcher) startDaemon(env *Env, d Daemon, bin string) (*process, func(), error) {
	if d.Prepare != nil {
		if err := d.Prepare(env); err != nil {
			return nil, nil, fmt.Errorf("prepare: %w", err)
		}
	}
	cfgPath := l.layout.configFile(d.Name)
	if d.ConfigName != "" {
		cfgPath = l.layout.path("config", d.ConfigName)
	}
	if d.RenderRaw != nil {
		data, err := d.RenderRaw(env)
		if err != nil {
			return nil, nil, fmt.Errorf("render config: %w", err)
		}
		if err := writeFileAtomic(cfgPath, data, 0o600); err != nil {
			return nil, nil, err
		}
	}
	if d.Render != nil {
		cfg, err := d.Render(env)
		if err != nil {
			return nil, nil, fmt.Errorf("render config: %w", err)
		}
		data, err := yaml.Marshal(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("render config: %w", err)
		}
		if err := writeFileAtomic(cfgPath, data, 0o600); err != nil {
			return nil, nil, err
		}
	}
	// A daemon left running by a launcher that was killed would hold its
	// ports: stop it first.
	killPidFile(l.layout.pidFile(d.Name))
	args := []string{"-config", cfgPath}
	if d.Args != nil {
		args = d.Args(cfgPath)
	}
	readyPath := "/readyz"
	if d.ReadyPath != "" {
		readyPath = d.ReadyPath
	}
	p := newProcess(d.Name, bin, args, l.layout.logFile(d.Name), l.layout.pidFile(d.Name),
		"http://"+env.Addr(d.Name, "ops")+readyPath, l.opts.StopTimeout, l.logger)
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	// Each daemon has its own context so that shutdown can go in reverse
	// start order.
	ctx, cancel := context.WithCancel(context.Background())
	go p.supervise(ctx)
	return p, func() { cancel(); <-p.done }, nil
}

// preflight checks everything that can be checked before starting anything
// and returns the binaries of the daemons that exist.
func (l *Launcher) preflight() (map[string]string, error) {
	o := l.opts
	var errs []error
	if err := l.layout.prepare(); err != nil {
		errs = append(errs, err)
	}
	pgBin := o.PGBinDir
	if pgBin == "" {
		pgBin = os.Getenv("PG_BIN")
	}
	if pgBin == "" {
		pgBin = pgserver.DefaultBinDir
	}
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := exec.LookPath(filepath.Join(pgBin, b)); err != nil {
			errs = append(errs, fmt.Errorf("postgres binary %s not found in %s: install postgresql-15 (apt-get install postgresql-15) or set PG_BIN", b, pgBin))
			break
		}
	}
	bins := map[string]string{}
	built := func(name string) bool {
		fi, err := os.Stat(filepath.Join(o.BinDir, name))
		return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
	}
	for _, d := range o.Daemons {
		bin := filepath.Join(o.BinDir, d.Name)
		if d.System != "" {
			if !built(d.With) {
				continue
			}
			p, err := exec.LookPath(d.System)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s needs %s, which is not installed (apt-get install %s)", d.With, d.System, d.System))
				continue
			}
			bin = p
		} else if !built(d.Name) {
			continue
		}
		bins[d.Name] = bin
		if d.NeedsRoot && os.Geteuid() != 0 {
			errs = append(errs, fmt.Errorf("%s runs containers and needs root: run anvil dev up as root (sudo)", d.Name))
		}
		if d.Preflight != nil {
			if err := d.Preflight(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
			}
		}
	}
	// The production shape serves every system component through the
	// router: without one, the advertised https://NAME.DOMAIN URLs would
	// lead nowhere.
	if _, ok := bins["gorouter"]; o.SystemDomain != "" && !ok {
		errs = append(errs, fmt.Errorf("--system-domain needs the gorouter daemon, which is not in %s (build it, or drop --system-domain for the localhost shape)", o.BinDir))
	}
	// Only public ports are checked here; internal ports are re-picked
	// when taken. A running launcher of this state dir holds them too: the
	// lock check reports that case more clearly.
	if !l.lockHeld() {
		if _, ok := bins["cloud_controller"]; ok && !portFree(o.APIPort) {
			errs = append(errs, fmt.Errorf("port %d (Cloud Controller) is in use: stop what holds it or pass --api-port", o.APIPort))
		}
		if _, ok := bins["gorouter"]; ok {
			if !portFree(o.RouterHTTPPort) {
				errs = append(errs, fmt.Errorf("port %d (router HTTP) is in use: stop what holds it or pass --router-http-port", o.RouterHTTPPort))
			}
			if !portFree(o.RouterHTTPSPort) {
				errs = append(errs, fmt.Errorf("port %d (router HTTPS) is in use: stop what holds it or pass --router-https-port", o.RouterHTTPSPort))
			}
		}
	}
	return bins, errors.Join(errs...)
}

// lock takes the state dir's lock, held for the launcher's lifetime. The
// kernel releases it if the launcher dies.
func (l *Launcher) lock() (func(), error) {
	f, err := os.OpenFile(l.layout.lockFile(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s): run anvil dev status or anvil dev down", ErrAlreadyRunning, l.opts.StateDir)
		}
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// lockHeld reports whether a launcher holds the state dir's lock.
func (l *Launcher) lockHeld() bool {
	return lockHeld(l.layout)
}

func lockHeld(ly layout) bool {
	f, err := os.Open(ly.lockFile())
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// requestDown asks Run to stop.
func (l *Launcher) requestDown() {
	l.downOnce.Do(func() { close(l.down) })
}
