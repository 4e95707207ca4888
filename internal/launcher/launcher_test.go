package launcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// fakeBin builds testdata/fakedaemon once per test binary.
var fakeBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "anvil-fakedaemon-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "fakedaemon")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/fakedaemon")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build fakedaemon: %v\n%s", err, b)
	}
	return out, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := fakeBin(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// binDir returns a bin dir holding the fake daemon under each given name.
func binDir(t *testing.T, names ...string) string {
	t.Helper()
	bin, err := fakeBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(bin, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fakeDaemon(name, mode string) Daemon {
	return Daemon{
		Name:      name,
		Databases: []string{name + "_db"},
		Render: func(env *Env) (any, error) {
			return map[string]string{"ops_listen": env.Addr(name, "ops"), "mode": mode}, nil
		},
	}
}

// syncBuffer collects progress output written by the launcher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stateDir returns a state dir the postgres account can reach when tests
// run as root (t.TempDir's parents are private to root).
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "anvil-launcher-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(data), ") Z ")
}

func TestUpSuperviseDown(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	t.Parallel()
	dir := stateDir(t)
	opts := Options{
		StateDir: dir,
		BinDir:   binDir(t, "alpha", "beta"),
		Daemons:  []Daemon{fakeDaemon("alpha", "ok"), fakeDaemon("beta", "ok"), fakeDaemon("gamma", "ok")},
		APIPort:  1, RouterHTTPPort: 2, RouterHTTPSPort: 3,
	}
	var progress syncBuffer
	l := New(opts, logging.Discard(), &progress)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(ctx) }()

	var st Status
	testenv.Eventually(t, 60*time.Second, func() error {
		var err error
		st, err = GetStatus(ctx, dir)
		if err != nil {
			return err
		}
		if st.Phase != PhaseReady {
			return fmt.Errorf("phase %s", st.Phase)
		}
		return nil
	})
	if len(st.Daemons) != 2 || st.Daemons[0].Name != "alpha" || st.Daemons[1].Name != "beta" {
		t.Fatalf("daemons %+v, want alpha and beta (gamma has no binary)", st.Daemons)
	}
	for _, d := range st.Daemons {
		if d.State != StateReady || !processAlive(d.Pid) {
			t.Fatalf("daemon %+v not ready and alive", d)
		}
	}
	ep, err := ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ep.AdminPassword == "" || ep.API != "http://localhost:1" || ep.AppsDomain != "apps.localhost" {
		t.Fatalf("unexpected endpoints %+v", ep)
	}
	if !strings.Contains(progress.String(), "cf login -u admin -p "+ep.AdminPassword) {
		t.Fatalf("progress lacks login instructions:\n%s", progress.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "config", "alpha.yml")); err != nil {
		t.Fatalf("config not rendered: %v", err)
	}

	// A second launcher on the same state dir is refused.
	err = New(opts, logging.Discard(), &bytes.Buffer{}).Run(ctx)
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run = %v, want ErrAlreadyRunning", err)
	}

	// A crashed daemon is restarted.
	crashed := st.Daemons[0].Pid
	if err := syscall.Kill(crashed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		st, err := GetStatus(ctx, dir)
		if err != nil {
			return err
		}
		a := st.Daemons[0]
		if a.Restarts < 1 || a.State != StateReady || a.Pid == crashed {
			return fmt.Errorf("alpha not restarted yet: %+v", a)
		}
		return nil
	})

	st, err = GetStatus(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{st.Postgres.Pid}
	for _, d := range st.Daemons {
		pids = append(pids, d.Pid)
	}
	downCtx, downCancel := context.WithTimeout(context.Background(), time.Minute)
	defer downCancel()
	if err := Down(downCtx, dir); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run after down = %v, want nil", err)
	}
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("process %d still alive after down", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "endpoints.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("endpoints.json left behind: %v", err)
	}
	if _, err := GetStatus(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("status after down = %v, want ErrNotRunning", err)
	}
}

func TestUpFailsCleanly(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	t.Parallel()
	tests := []struct {
		name    string
		mode    string
		wantErr string
	}{
		{name: "daemon exits at once", mode: "fail", wantErr: "last exit: exit status 3"},
		{name: "daemon never ready", mode: "never-ready", wantErr: "not ready after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := stateDir(t)
			opts := Options{
				StateDir:     dir,
				BinDir:       binDir(t, "alpha"),
				Daemons:      []Daemon{fakeDaemon("alpha", tt.mode)},
				ReadyTimeout: 3 * time.Second,
			}
			l := New(opts, logging.Discard(), &bytes.Buffer{})
			err := l.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "logs", "alpha.log")) {
				t.Errorf("error %q does not name the daemon's log", err)
			}
			st := l.status()
			if st.Postgres == nil || processAlive(st.Postgres.Pid) {
				t.Errorf("postgres left running after a failed start: %+v", st.Postgres)
			}
			for _, d := range st.Daemons {
				if processAlive(d.Pid) {
					t.Errorf("daemon %s left running (pid %d)", d.Name, d.Pid)
				}
			}
			if lockHeld(layout{dir}) {
				t.Error("state dir still locked")
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{
			name:    "state dir not writable",
			opts:    Options{StateDir: notDir, BinDir: t.TempDir()},
			wantErr: []string{"is not writable"},
		},
		{
			name:    "postgres binaries missing",
			opts:    Options{StateDir: t.TempDir(), BinDir: t.TempDir(), PGBinDir: t.TempDir()},
			wantErr: []string{"install postgresql-15", "PG_BIN"},
		},
		{
			name:    "production shape without a router",
			opts:    Options{StateDir: t.TempDir(), BinDir: t.TempDir(), SystemDomain: "sys.example.com"},
			wantErr: []string{"--system-domain needs the gorouter daemon"},
		},
		{
			name:    "bad flags",
			opts:    Options{StateDir: t.TempDir(), APIPort: 70000, AppsDomain: "Bad_Domain"},
			wantErr: []string{"--api-port 70000", "--apps-domain"},
		},
		{
			name: "daemon preflight",
			opts: Options{StateDir: t.TempDir(), BinDir: binDir(t, "rep"), Daemons: []Daemon{{
				Name: "rep", Preflight: func() error { return errors.New("containerd socket not found at /x") },
			}}},
			wantErr: []string{"rep: containerd socket not found at /x"},
		},
		{
			name: "system binary missing for a built daemon",
			opts: Options{StateDir: t.TempDir(), BinDir: binDir(t, "rep"), Daemons: []Daemon{
				{Name: "containerd", System: "no-such-containerd-binary", With: "rep"},
				{Name: "rep"},
			}},
			wantErr: []string{"rep needs no-such-containerd-binary, which is not installed (apt-get install no-such-containerd-binary)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.Daemons == nil {
				tt.opts.Daemons = []Daemon{}
			}
			var progress bytes.Buffer
			err := New(tt.opts, logging.Discard(), &progress).Run(context.Background())
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(progress.String(), "starting Postgres") {
				t.Errorf("started something despite a failed preflight:\n%s", progress.String())
			}
		})
	}
}

func TestValidDomain(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]bool{
		"apps.localhost": true, "a-b.example.com": true, "x": true,
		"": false, ".a": false, "a.": false, "-a.b": false, "A.b": false, "a..b": false, "a_b.c": false,
		strings.Repeat("a", 64) + ".com": false,
	} {
		if got := validDomain(d); got != want {
			t.Errorf("validDomain(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestPostgresDirUnreachableStateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs postgres under another account")
	}
	t.Parallel()
	private := filepath.Join(t.TempDir(), "home") // t.TempDir is 0700, owned by root
	if err := os.MkdirAll(private, 0o700); err != nil {
		t.Fatal(err)
	}
	reachable := stateDir(t)
	tests := []struct {
		name       string
		dir        string
		wantShared bool
	}{
		{name: "reachable state dir keeps its cluster", dir: reachable},
		{name: "private state dir gets a shared cluster dir", dir: private, wantShared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &state{}
			got, err := st.postgresDir(layout{tt.dir})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantShared {
				t.Cleanup(func() { os.RemoveAll(filepath.Dir(got)) })
				if !strings.HasPrefix(got, sharedPostgresRoot+"/dev-") {
					t.Fatalf("postgresDir = %s, want one under %s", got, sharedPostgresRoot)
				}
			} else if got != filepath.Join(tt.dir, "postgres") {
				t.Fatalf("postgresDir = %s, want %s/postgres", got, tt.dir)
			}
			if st.PostgresDir != got {
				t.Fatal("choice not remembered in state")
			}
		})
	}
}
