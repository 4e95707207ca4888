package pgserver_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anvilpaas/anvil/internal/pgserver"
)

// newDataDir returns a fresh directory under os.TempDir(), which (unlike
// t.TempDir) the unprivileged postgres user can reach when tests run as root.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(os.TempDir(), "pgserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer starts a throwaway cluster in dataDir and stops it at cleanup.
func startServer(t *testing.T, cfg pgserver.Config) *pgserver.Server {
	t.Helper()
	cfg.NoSync = true
	cfg.DieWithParent = true
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	began := time.Now()
	s, err := pgserver.Start(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cluster up in %v", time.Since(began))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func queryInt(t *testing.T, dsn, sql string) int {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func exec(t *testing.T, dsn string, sqls ...string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// waitDone waits for the postmaster to exit, failing after d.
func waitDone(t *testing.T, s *pgserver.Server, d time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(d):
		t.Fatalf("postmaster %d still running after %v", s.Pid(), d)
	}
}

func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Contains(string(b), ") Z ")
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	s := startServer(t, pgserver.Config{DataDir: dir})

	if s.Port() <= 0 || s.Pid() <= 0 {
		t.Fatalf("Port() = %d, Pid() = %d", s.Port(), s.Pid())
	}
	if got := queryInt(t, s.DSN("postgres"), "SELECT 1"); got != 1 {
		t.Fatalf("SELECT 1 = %d", got)
	}
	ctx := t.Context()
	for range 2 { // idempotent
		if err := s.CreateDatabase(ctx, "app-db"); err != nil {
			t.Fatalf("CreateDatabase: %v", err)
		}
	}
	exec(t, s.DSN("app-db"), "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1), (2)")
	if got := queryInt(t, s.DSN("app-db"), "SELECT count(*) FROM t"); got != 2 {
		t.Fatalf("count = %d, want 2", got)
	}
	// The server must not be reachable from outside loopback nor over a socket.
	if got := queryInt(t, s.DSN("postgres"), "SELECT count(*) FROM pg_settings WHERE name = 'listen_addresses' AND setting = '127.0.0.1'"); got != 1 {
		t.Fatal("listen_addresses is not 127.0.0.1")
	}

	if pid, err := pgserver.RunningPid(dir); err != nil || pid != s.Pid() {
		t.Fatalf("RunningPid = %d, %v; want %d", pid, err, s.Pid())
	}
	if _, err := pgserver.Start(ctx, pgserver.Config{DataDir: dir}, nil); !errors.Is(err, pgserver.ErrAlreadyRunning) {
		t.Fatalf("second Start on a running data dir: err = %v, want ErrAlreadyRunning", err)
	}

	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Stop(stopCtx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(stopCtx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	waitDone(t, s, time.Second)
	if !processGone(s.Pid()) {
		t.Fatalf("postmaster %d still exists after Stop", s.Pid())
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid left behind after a clean stop: %v", err)
	}
	if pid, err := pgserver.RunningPid(dir); err != nil || pid != 0 {
		t.Fatalf("RunningPid after Stop = %d, %v; want 0", pid, err)
	}
}

func TestRestartKeepsDataAndStopDataDir(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	ctx := t.Context()

	s1 := startServer(t, pgserver.Config{DataDir: dir})
	exec(t, s1.DSN("postgres"), "CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (42)")
	if err := s1.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	s2 := startServer(t, pgserver.Config{DataDir: dir})
	if got := queryInt(t, s2.DSN("postgres"), "SELECT v FROM kept"); got != 42 {
		t.Fatalf("after restart v = %d, want 42", got)
	}

	// Stop it the way `anvil dev down` would, from "another process".
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := pgserver.StopDataDir(stopCtx, dir); err != nil {
		t.Fatalf("StopDataDir: %v", err)
	}
	waitDone(t, s2, 5*time.Second)
	if err := pgserver.StopDataDir(stopCtx, dir); err != nil {
		t.Fatalf("StopDataDir on a stopped cluster: %v", err)
	}
	if err := s2.Stop(stopCtx); err != nil {
		t.Fatalf("Stop after StopDataDir: %v", err)
	}
}

func TestStopKillsWhenContextEnds(t *testing.T) {
	t.Parallel()
	startCtx, cancelStart := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancelStart()
	cfg := pgserver.Config{DataDir: newDataDir(t), NoSync: true, DieWithParent: true}
	s, err := pgserver.Start(startCtx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// A context that is already done skips the grace period: SIGKILL.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = s.Stop(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a cancelled ctx: err = %v, want context.Canceled", err)
	}
	waitDone(t, s, time.Second)
	if !processGone(s.Pid()) {
		t.Fatalf("postmaster %d still exists", s.Pid())
	}
	// A killed postmaster leaves a stale postmaster.pid, which must not
	// count as running.
	if pid, err := pgserver.RunningPid(cfg.DataDir); err != nil || pid != 0 {
		t.Fatalf("RunningPid after SIGKILL = %d, %v; want 0", pid, err)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := busy.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name    string
		cfg     func(t *testing.T) pgserver.Config
		wantIs  error
		wantMsg []string
	}{
		{
			name:    "no data dir",
			cfg:     func(*testing.T) pgserver.Config { return pgserver.Config{} },
			wantMsg: []string{"data dir is required"},
		},
		{
			name: "binaries missing",
			cfg: func(t *testing.T) pgserver.Config {
				return pgserver.Config{BinDir: t.TempDir(), DataDir: newDataDir(t)}
			},
			wantIs:  pgserver.ErrBinariesNotFound,
			wantMsg: []string{"install postgresql-15 or set PG_BIN"},
		},
		{
			name: "port in use",
			cfg: func(t *testing.T) pgserver.Config {
				return pgserver.Config{DataDir: newDataDir(t), Port: busyPort}
			},
			wantIs:  pgserver.ErrPortInUse,
			wantMsg: []string{strconv.Itoa(busyPort)},
		},
		{
			name: "postgres exits during start-up",
			cfg: func(t *testing.T) pgserver.Config {
				return pgserver.Config{DataDir: newDataDir(t), Settings: map[string]string{"shared_buffers": "lots"}}
			},
			// The log tail must explain why.
			wantMsg: []string{"exited during start-up", `invalid value for parameter "shared_buffers"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg(t)
			cfg.NoSync, cfg.DieWithParent = true, true
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s, err := pgserver.Start(ctx, cfg, testLogger(t))
			if err == nil {
				s.Stop(ctx)
				t.Fatal("Start succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not mention %q", m)
				}
			}
		})
	}
}

func TestPGBinEnv(t *testing.T) {
	// t.Setenv: not parallel.
	t.Setenv("PG_BIN", "/nonexistent/pg/bin")
	_, err := pgserver.Start(t.Context(), pgserver.Config{DataDir: newDataDir(t)}, nil)
	if !errors.Is(err, pgserver.ErrBinariesNotFound) || !strings.Contains(err.Error(), "/nonexistent/pg/bin") {
		t.Fatalf("err = %v, want ErrBinariesNotFound naming $PG_BIN", err)
	}
}

func TestUnreachableDataDirAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root switches to an unprivileged user")
	}
	// t.TempDir is 0700 root: the postgres user cannot get through it.
	dir := filepath.Join(t.TempDir(), "data")
	_, err := pgserver.Start(t.Context(), pgserver.Config{DataDir: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot traverse") {
		t.Fatalf("err = %v, want a traversal error", err)
	}
}
