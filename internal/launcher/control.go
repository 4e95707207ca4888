package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/anvilpaas/anvil/internal/pgserver"
)

// Status is what `anvil dev status` shows.
type Status struct {
	Pid       int             `json:"pid"`
	Phase     string          `json:"phase"`
	StateDir  string          `json:"state_dir"`
	Postgres  *ServiceStatus  `json:"postgres,omitempty"`
	NATS      *ServiceStatus  `json:"nats,omitempty"`
	Daemons   []ProcessStatus `json:"daemons"`
	Endpoints *Endpoints      `json:"endpoints,omitempty"`
}

// ServiceStatus describes Postgres or NATS.
type ServiceStatus struct {
	Pid  int    `json:"pid"`
	Addr string `json:"addr"`
	Log  string `json:"log,omitempty"`
}

func (l *Launcher) status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{Pid: os.Getpid(), Phase: l.phase, StateDir: l.opts.StateDir, Daemons: []ProcessStatus{}, Endpoints: l.endpoints}
	if l.pg != nil {
		st.Postgres = &ServiceStatus{Pid: l.pg.Pid(), Addr: fmt.Sprintf("127.0.0.1:%d", l.pg.Port()), Log: l.pg.LogFile()}
	}
	if l.nats != nil {
		st.NATS = &ServiceStatus{Pid: os.Getpid(), Addr: fmt.Sprintf("127.0.0.1:%d", l.nats.Port())}
	}
	for _, p := range l.procs {
		st.Daemons = append(st.Daemons, p.status())
	}
	return st
}

// serveControl serves the control API on DIR/anvil.sock:
//
//	GET  /status  → Status
//	POST /down    → 202; the launcher shuts down
func (l *Launcher) serveControl() (io.Closer, error) {
	sock := l.layout.socket()
	_ = os.Remove(sock) // stale: the lock proves no launcher owns it
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(l.status())
	})
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, _ *http.Request) {
		l.requestDown()
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return closerFunc(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		_ = os.Remove(sock)
		return err
	}), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// ErrNotRunning is returned by GetStatus when no launcher runs from the
// state dir.
var ErrNotRunning = errors.New("no platform is running from this state dir")

func controlClient(stateDir string) *http.Client {
	sock := layout{stateDir}.socket()
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
}

// GetStatus asks the launcher running from stateDir for its status.
func GetStatus(ctx context.Context, stateDir string) (Status, error) {
	var st Status
	if !lockHeld(layout{stateDir}) {
		return st, fmt.Errorf("%w (%s)", ErrNotRunning, stateDir)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://anvil/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := controlClient(stateDir).Do(req)
	if err != nil {
		return st, fmt.Errorf("ask launcher for status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("ask launcher for status: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("ask launcher for status: %w", err)
	}
	return st, nil
}

// Down stops the platform running from stateDir and waits until its
// launcher has exited. With no launcher running it still cleans up what a
// killed launcher may have left: daemons (by their pid files) and Postgres.
func Down(ctx context.Context, stateDir string) error {
	ly := layout{stateDir}
	if lockHeld(ly) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://anvil/down", nil)
		if err != nil {
			return err
		}
		resp, err := controlClient(stateDir).Do(req)
		if err != nil {
			// The control socket is gone but the lock is held: signal the
			// launcher whose pid is in the lock file.
			if perr := signalLockOwner(ly, syscall.SIGTERM); perr != nil {
				return fmt.Errorf("ask launcher to stop: %w", errors.Join(err, perr))
			}
		} else {
			resp.Body.Close()
		}
		for lockHeld(ly) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("launcher did not stop: %w", ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Leftovers of a launcher that died without cleaning up.
	entries, _ := os.ReadDir(ly.path("run"))
	for _, e := range entries {
		killPidFile(ly.path("run", e.Name()))
	}
	pgDir := ly.postgresDir()
	if st, err := loadState(ly); err == nil && st.PostgresDir != "" {
		pgDir = st.PostgresDir
	}
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); err == nil {
		if err := pgserver.StopDataDir(ctx, pgDir); err != nil {
			return fmt.Errorf("stop leftover postgres: %w", err)
		}
	}
	_ = os.Remove(ly.endpointsFile())
	return nil
}

func signalLockOwner(ly layout, sig syscall.Signal) error {
	data, err := os.ReadFile(ly.lockFile())
	if err != nil {
		return err
	}
	var pid int
	if _, err := fmt.Sscanf(string(data), "%d", &pid); err != nil || pid <= 1 {
		return fmt.Errorf("no pid in %s", ly.lockFile())
	}
	return syscall.Kill(pid, sig)
}
