package lifecycletest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/testenv"
)

// Running is an app started by the launcher from an extracted droplet.
type Running struct {
	URL string
	mu  sync.Mutex
	out []byte
}

// Output is what the app has printed so far.
func (r *Running) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.out)
}

func (r *Running) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, p...)
	return len(p), nil
}

// Get fetches path from the app and returns the status and body.
func (r *Running) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Launch starts the droplet's web process (command empty) or command with
// the launcher on a free port, waits until it answers HTTP, and stops it
// when the test ends.
func Launch(t testing.TB, home, command string) *Running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	r := &Running{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cmd := exec.Command(Build(t).Launcher, filepath.Join(home, "app"), command, "{}")
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(port)}
	cmd.Stdout, cmd.Stderr = r, r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		t.Logf("app output:\n%s", r.Output())
	})
	testenv.Eventually(t, 20*time.Second, func() error {
		select {
		case <-exited:
			return fmt.Errorf("app exited: %s", r.Output())
		default:
		}
		resp, err := http.Get(r.URL + "/")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	})
	return r
}
