package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/bbsclient"
	"github.com/anvilpaas/anvil/internal/launcher"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/stack"
)

// platform is the running platform shared by the package's tests.
type platform struct {
	stateDir   string
	ep         launcher.Endpoints
	ports      map[string]int
	routerHTTP string // http://127.0.0.1:PORT
	bbs        bbsv1.BBSServiceClient
}

var shared struct {
	once   sync.Once
	p      *platform
	err    error
	skip   string
	cancel context.CancelFunc
	done   chan error
	build  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
		select {
		case err := <-shared.done:
			if err != nil {
				fmt.Fprintf(os.Stderr, "e2e: platform stopped with: %v\n", err)
			}
		case <-time.After(2 * time.Minute):
			fmt.Fprintln(os.Stderr, "e2e: platform did not stop within 2m")
		}
	}
	if shared.build != "" {
		if code == 0 {
			os.RemoveAll(shared.build)
		} else {
			fmt.Fprintf(os.Stderr, "e2e: kept %s (daemon logs in state/logs)\n", shared.build)
		}
	}
	os.Exit(code)
}

// requirements says what this machine lacks to run the platform.
func requirements() error {
	if os.Geteuid() != 0 {
		return errors.New("the platform's cell needs root")
	}
	for _, bin := range []string{"containerd", "runc", "debootstrap"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install containerd runc debootstrap)", bin)
		}
	}
	return nil
}

// start returns the shared platform, starting it on first use.
func start(t *testing.T) *platform {
	t.Helper()
	shared.once.Do(func() {
		if err := requirements(); err != nil {
			shared.skip = err.Error()
			return
		}
		shared.p, shared.err = boot()
	})
	if shared.skip != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("e2e cannot run in CI: %s", shared.skip)
		}
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("platform: %v", shared.err)
	}
	return shared.p
}

// boot builds the daemons and starts the launcher.
func boot() (*platform, error) {
	dir, err := os.MkdirTemp("", "anvil-e2e-")
	if err != nil {
		return nil, err
	}
	shared.build = dir
	bin := filepath.Join(dir, "bin")
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	for _, b := range []struct {
		out  string
		env  []string
		pkgs []string
	}{
		{bin + "/", nil, []string{"./cmd/..."}},
		{bin + "/lifecycle/", []string{"CGO_ENABLED=0"}, []string{"./diego/lifecycle/cmd/builder", "./diego/lifecycle/cmd/launcher"}},
		{bin + "/buildpacks/.staticfile-server", []string{"CGO_ENABLED=0"}, []string{"./buildpacks/staticfile/server"}},
	} {
		cmd := exec.Command("go", append([]string{"build", "-o", b.out}, b.pkgs...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %v: %w\n%s", b.pkgs, err, out)
		}
	}
	// The system buildpacks, as `make buildpacks` makes them.
	for _, z := range [][]string{
		{"-dir", "buildpacks/binary", "-o", bin + "/buildpacks/binary_buildpack.zip"},
		{"-dir", "buildpacks/staticfile", "-o", bin + "/buildpacks/staticfile_buildpack.zip", "-add", "lib/staticfile-server=" + bin + "/buildpacks/.staticfile-server"},
		{"-dir", "buildpacks/go", "-o", bin + "/buildpacks/go_buildpack.zip", "-add", "lib/go.tar.gz=" + bin + "/buildpacks/.go-toolchain.tar.gz"},
	} {
		if z[1] == "buildpacks/go" {
			// The Go toolchain the go_buildpack bundles: this machine's.
			goroot, err := exec.Command("go", "env", "GOROOT").Output()
			if err != nil {
				return nil, fmt.Errorf("go env GOROOT: %w", err)
			}
			cmd := exec.Command("go", "run", "./buildpacks/go/cmd/gotoolchain", "-goroot", strings.TrimSpace(string(goroot)), "-o", bin+"/buildpacks/.go-toolchain.tar.gz")
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("pack the Go toolchain: %w\n%s", err, out)
			}
		}
		cmd := exec.Command("go", append([]string{"run", "./diego/lifecycle/cmd/buildpackzip"}, z...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("zip buildpack %v: %w\n%s", z, err, out)
		}
	}
	// The debian-bookworm stack, as `make stack` builds it (minutes the
	// first time on a machine, then reused).
	sctx, scancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer scancel()
	var stackLog bytes.Buffer
	if _, err := stack.Build(sctx, stack.Options{Progress: &stackLog}); err != nil {
		return nil, fmt.Errorf("build the stack: %w\n%s", err, stackLog.String())
	}

	p := &platform{stateDir: filepath.Join(dir, "state")}
	httpPort, httpsPort, apiPort := freePort(), freePort(), freePort()
	var progress bytes.Buffer
	l := launcher.New(launcher.Options{
		StateDir: p.stateDir, BinDir: bin,
		APIPort: apiPort, RouterHTTPPort: httpPort, RouterHTTPSPort: httpsPort,
	}, logging.Discard(), &syncWriter{w: &progress})
	ctx, cancel := context.WithCancel(context.Background())
	shared.cancel = cancel
	shared.done = make(chan error, 1)
	go func() { shared.done <- l.Run(ctx) }()

	epFile := filepath.Join(p.stateDir, "endpoints.json")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if data, err := os.ReadFile(epFile); err == nil && json.Unmarshal(data, &p.ep) == nil {
			break
		}
		select {
		case err := <-shared.done:
			shared.done <- err
			return nil, fmt.Errorf("launcher stopped: %v\n%s", err, progress.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("platform not up within 5m\n%s", progress.String())
		}
	}
	var st struct {
		Ports map[string]int `json:"ports"`
	}
	data, err := os.ReadFile(filepath.Join(p.stateDir, "state.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	p.ports = st.Ports
	p.routerHTTP = fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	secrets := filepath.Join(p.stateDir, "secrets")
	conn, err := bbsclient.Dial(context.Background(), bbsclient.Config{
		RPC: rpc.ClientConfig{
			Address:  fmt.Sprintf("127.0.0.1:%d", p.ports["bbs/grpc"]),
			CertFile: filepath.Join(secrets, "rep.crt"), KeyFile: filepath.Join(secrets, "rep.key"),
			CAFile: filepath.Join(secrets, "ca.crt"),
		},
		RequestTimeout: 10 * time.Second, Attempts: 3, Backoff: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	p.bbs = bbsv1.NewBBSServiceClient(conn)
	return p, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// freePort returns a port for the platform, below the ephemeral range
// (launcher.FreePort): the tests running beside it open many connections.
func freePort() int {
	p, err := launcher.FreePort()
	if err != nil {
		panic(fmt.Sprintf("e2e: no free port: %v", err))
	}
	return p
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// adminToken logs in as the platform's admin with the cf client.
func (p *platform) adminToken(t *testing.T) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {p.ep.AdminUser}, "password": {p.ep.AdminPassword}}
	req, _ := http.NewRequest("POST", p.ep.UAA+"/oauth/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth("cf", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("admin login: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// get sends a GET to the router for host and path.
func (p *platform) get(host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", p.routerHTTP+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
