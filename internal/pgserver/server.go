package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Server is a running postmaster started by Start.
type Server struct {
	logger  *slog.Logger
	dataDir string
	logFile string
	port    int
	cmd     *exec.Cmd

	done    chan struct{} // closed when the postmaster has exited
	waitErr error         // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start initialises cfg.DataDir if needed, starts postgres on 127.0.0.1 and
// returns once it accepts connections. See the package documentation for the
// lifecycle and the rules for running as root. A nil logger discards logs.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	logger = logger.With("data_dir", cfg.DataDir)
	if err := checkBinaries(cfg.BinDir); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	as, err := resolveUser(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := prepareDataDir(cfg.DataDir, as); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if pid, err := runningPid(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	} else if pid != 0 {
		return nil, fmt.Errorf("start postgres: %w in %s (pid %d): stop it with StopDataDir", ErrAlreadyRunning, cfg.DataDir, pid)
	}
	if cfg.Port != 0 {
		// Fail before initdb creates anything.
		if err := checkPort(cfg.Port); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
	if err := initdb(ctx, cfg, as, logger); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	// A port picked for us can be taken by someone else before postgres
	// binds it; pick again a couple of times in that case.
	const attempts = 3
	for i := 1; ; i++ {
		port := cfg.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("start postgres: %w", err)
			}
		}
		s, err := start(ctx, cfg, as, port, logger)
		if err == nil {
			return s, nil
		}
		if cfg.Port != 0 || i == attempts || !errors.Is(err, ErrPortInUse) {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		logger.Info("picked port was taken, retrying", "port", port)
	}
}

// prepareDataDir makes sure the data dir exists and, for a new cluster,
// belongs to the run-as user, who must be able to reach it.
func prepareDataDir(dir string, as *runAs) error {
	if err := as.mkdirAll(dir); err != nil {
		return err
	}
	if err := as.checkTraverse(dir); err != nil {
		return err
	}
	if !initialised(dir) {
		if err := as.chown(dir); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return nil
}

func initialised(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	return err == nil
}

// initdb creates the cluster unless the data dir already holds one.
func initdb(ctx context.Context, cfg Config, as *runAs, logger *slog.Logger) error {
	if initialised(cfg.DataDir) {
		return nil
	}
	began := time.Now()
	args := []string{
		"-D", cfg.DataDir,
		"-U", Superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
		"--no-instructions",
	}
	if cfg.NoSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "initdb"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/"
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: as.credential()}
	if cfg.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	// initdb runs postgres in bootstrap mode as its child: on cancellation
	// kill them together.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, lastLines(out.Bytes(), tailLines))
	}
	logger.Info("initialised postgres cluster", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// start runs the postmaster on port and waits until it accepts connections.
func start(ctx context.Context, cfg Config, as *runAs, port int, logger *slog.Logger) (*Server, error) {
	// Check the port first: postgres would fail to bind anyway, but another
	// server on it could answer our readiness probe in the meantime.
	if err := checkPort(port); err != nil {
		return nil, err
	}

	logf, offset, err := openLog(cfg, as)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy

	args := []string{
		"-D", cfg.DataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	}
	if cfg.NoSync {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Settings)) {
		args = append(args, "-c", k+"="+cfg.Settings[k])
	}
	cmd := exec.Command(filepath.Join(cfg.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: as.credential()}
	if cfg.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run postgres: %w", err)
	}
	s := &Server{
		logger:  logger,
		dataDir: cfg.DataDir,
		logFile: cfg.LogFile,
		port:    port,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	if err := s.waitReady(ctx, cfg.StartTimeout); err != nil {
		killGroup(cmd.Process.Pid)
		<-s.done
		tail := logTail(cfg.LogFile, offset)
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: postgres could not bind 127.0.0.1:%d", ErrPortInUse, port)
		}
		return nil, fmt.Errorf("%w\npostgres log %s:\n%s", err, cfg.LogFile, tail)
	}
	logger.Info("postgres started", "pid", s.Pid(), "port", port, "took", time.Since(began).Round(time.Millisecond))
	return s, nil
}

// openLog opens the server log for appending and returns its current size,
// so error messages show only this run's lines.
func openLog(cfg Config, as *runAs) (*os.File, int64, error) {
	dir := filepath.Dir(cfg.LogFile)
	if isWithin(dir, cfg.DataDir) {
		// Keep everything under PGDATA owned by the server's user.
		if err := as.mkdirAll(dir); err != nil {
			return nil, 0, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("create log dir: %w", err)
	}
	f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	return f, off, nil
}

// waitReady polls with real connections until one succeeds, the postmaster
// exits, or ctx or timeout runs out.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 10 * time.Millisecond
	for {
		err := s.probe(ctx)
		if err == nil || errors.Is(err, ErrPortInUse) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-s.done:
			t.Stop()
			return fmt.Errorf("postgres exited during start-up: %v", s.waitErr)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("postgres not ready: %w (last attempt: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// probe connects once and checks that it reached this server's postmaster,
// not a stranger that grabbed the port.
func (s *Server) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return err
	}
	if filepath.Clean(dir) != s.dataDir {
		return fmt.Errorf("%w: 127.0.0.1:%d is served by another postgres (data dir %s)", ErrPortInUse, s.port, dir)
	}
	return nil
}

// Port returns the TCP port postgres listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// Pid returns the postmaster's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// DataDir returns the absolute cluster directory.
func (s *Server) DataDir() string { return s.dataDir }

// LogFile returns the path of the server log.
func (s *Server) LogFile() string { return s.logFile }

// Done is closed when the postmaster has exited, whether through Stop or not.
func (s *Server) Done() <-chan struct{} { return s.done }

// DSN returns a connection URL for database db as the superuser, e.g.
// postgres://postgres@127.0.0.1:5432/db?sslmode=disable.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name unless it already exists.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: lost a race
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts postgres down: SIGINT (fast shutdown), then, once ctx is done,
// SIGKILL to the whole process group. It returns after the postmaster has
// exited. Later calls wait for the same outcome and return the same error.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		s.logger.Info("stopping postgres", "pid", s.Pid())
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			s.logger.Warn("signal postgres", "err", err)
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			s.logger.Warn("postgres fast shutdown timed out, killing it", "pid", s.Pid())
			killGroup(s.Pid())
			<-s.done
			s.stopErr = fmt.Errorf("stop postgres: fast shutdown did not finish, killed: %w", ctx.Err())
			return
		}
		s.logger.Info("postgres stopped")
	})
	<-s.done
	return s.stopErr
}

// childEnv is the environment of initdb and postgres: ours without PG*
// variables, which could point them at another cluster.
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG")
	})
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPort reports ErrPortInUse if port on 127.0.0.1 cannot be bound.
func checkPort(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: 127.0.0.1:%d: %w", ErrPortInUse, port, err)
	}
	return l.Close()
}

// isWithin reports whether path is dir or below it.
func isWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
