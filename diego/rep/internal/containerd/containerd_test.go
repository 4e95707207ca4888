package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// The integration tests run against the test binary's private containerd
// (testenv.Containerd), each cell in a namespace, state directory, port
// range and (in bridge mode) bridge and subnet of its own, so they run in
// parallel. TestMain restores what CNI changes host-wide.

func TestMain(m *testing.M) {
	sweepStaleCells()
	host := saveHostNetwork()
	testenv.Main(m)
	host.restore()
}

const stack = "busybox"

var cellSeq atomic.Uint32

var subnets struct {
	mu   sync.Mutex
	next int
}

// freeSubnet returns a /24 in 10.250.0.0/16 that no interface of the host
// is on (a bridge another binary runs, or one a crash left behind) and no
// cell of this binary got before.
func freeSubnet(t testing.TB) string {
	t.Helper()
	subnets.mu.Lock()
	defer subnets.mu.Unlock()
	used := map[int]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip := ipn.IP.To4(); ip != nil && ip[0] == 10 && ip[1] == 250 {
				used[int(ip[2])] = true
			}
		}
	}
	for i := 0; i < 250; i++ {
		x := (subnets.next+i)%250 + 1
		if !used[x] {
			subnets.next = x
			return fmt.Sprintf("10.250.%d.0/24", x)
		}
	}
	t.Fatal("no free /24 in 10.250.0.0/16")
	return ""
}

// newCell returns a Runtime for a fresh cell in mode, with the busybox
// stack imported. When the test ends it destroys the cell's containers,
// closes the Runtime and deletes the cell's bridge.
func newCell(t testing.TB, mode string, edit ...func(*Config)) *Runtime {
	t.Helper()
	r, _ := newCellConfig(t, mode, edit...)
	return r
}

func newCellConfig(t testing.TB, mode string, edit ...func(*Config)) (*Runtime, Config) {
	t.Helper()
	env := testenv.Containerd(t)
	dir := testenv.BusyboxStack(t)
	n := cellSeq.Add(1)
	cfg := Config{
		Socket:    env.Socket,
		Namespace: env.Namespace,
		StateDir:  cellDir(t),
		HostIP:    "127.0.0.1",
		// 64 ports per cell, above the kernel's ephemeral range.
		PortRange: PortRange{Min: 61000 + (n%70)*64, Max: 61000 + (n%70)*64 + 63},
		Network: NetworkConfig{
			Mode:   mode,
			Bridge: fmt.Sprintf("anv%dc%d", os.Getpid()%100000, n),
			Subnet: freeSubnet(t),
			Name:   "anvil-" + env.Namespace,
		},
	}
	for _, e := range edit {
		e(&cfg)
	}
	cfg.Defaults()
	if data, err := json.Marshal(cfg); err == nil {
		os.WriteFile(filepath.Join(cfg.StateDir, cellFile), data, 0o600)
	}
	r, err := New(cfg, testenv.Logger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if cs, err := r.List(ctx); err == nil {
			for _, c := range cs {
				if err := r.Destroy(ctx, c.ID); err != nil {
					t.Errorf("cleanup: destroy %s: %v", c.ID, err)
				}
			}
		}
		r.Close()
		if mode == NetworkBridge {
			deleteLink(cfg.Network.Bridge)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.EnsureStack(ctx, stack, dir); err != nil {
		t.Fatalf("EnsureStack: %v", err)
	}
	return r, cfg
}

// cellDirPrefix starts a cell state directory's name, followed by the
// test binary's pid, so that the next run can clean up after a binary that
// died (sweepStaleCells).
const (
	cellDirPrefix = "anvil-cell-"
	cellFile      = "cell.json"
)

// cellDir makes a cell's state directory, removed when the test ends
// (after the cell's cleanup, which registers later and so runs first).
func cellDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", cellDirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove cell state dir: %v", err)
		}
	})
	return dir
}

// sweepStaleCells undoes the networks of cells whose test binary died
// before its cleanup: for each of their records the CNI teardown (address,
// port mappings, network namespace), then any mount left, the bridge and
// the directory. (testenv kills such a binary's containers.)
func sweepStaleCells() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), cellDirPrefix+"*"))
	for _, dir := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), cellDirPrefix), "-")
		if n, err := strconv.Atoi(pid); err != nil || syscall.Kill(n, 0) == nil {
			continue
		}
		var cfg Config
		if data, err := os.ReadFile(filepath.Join(dir, cellFile)); err == nil && json.Unmarshal(data, &cfg) == nil && cfg.Network.Mode == NetworkBridge {
			if n, err := newBridgeNetwork(cfg, stateDirs(dir)); err == nil {
				recs, _ := stateDirs(dir).records()
				for _, rec := range recs {
					n.teardown(context.Background(), rec)
				}
			}
			deleteLink(cfg.Network.Bridge)
		}
		for _, sub := range []string{"netns", "mnt"} {
			entries, _ := os.ReadDir(filepath.Join(dir, sub))
			for _, e := range entries {
				syscall.Unmount(filepath.Join(dir, sub, e.Name()), syscall.MNT_DETACH)
			}
		}
		os.RemoveAll(dir)
	}
}

// create creates a container on the busybox stack, destroyed when the test
// ends.
func create(t testing.TB, r *Runtime, spec runtime.ContainerSpec) *runtime.Container {
	t.Helper()
	if spec.ID == "" {
		spec.ID = containerID(t)
	}
	if spec.Stack == "" {
		spec.Stack = stack
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		// A test that closed r destroys c with another Runtime.
		if err := r.Destroy(context.Background(), c.ID); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Destroy %s: %v", c.ID, err)
		}
	})
	return c
}

var idSeq atomic.Int64

func containerID(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(t.Name()))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("c%d-%s", idSeq.Add(1), name)
}

// result is what a finished process left.
type result struct {
	runtime.ExitStatus
	stdout, stderr string
}

// run runs a process to its end.
func run(t testing.TB, r *Runtime, containerID string, spec runtime.ProcessSpec) result {
	t.Helper()
	var out, errw syncBuffer
	spec.Stdout, spec.Stderr = &out, &errw
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("p%d", idSeq.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := r.Run(ctx, containerID, spec)
	if err != nil {
		t.Fatalf("Run %v: %v", spec.Args, err)
	}
	st, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait %v: %v", spec.Args, err)
	}
	return result{ExitStatus: st, stdout: out.String(), stderr: errw.String()}
}

// sh runs a shell command as vcap and returns its stdout, failing the
// test unless it exits 0.
func sh(t testing.TB, r *Runtime, containerID, script string) string {
	t.Helper()
	res := run(t, r, containerID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", script}})
	if res.Code != 0 {
		t.Fatalf("sh -c %q: exit %d, stdout %q, stderr %q", script, res.Code, res.stdout, res.stderr)
	}
	return res.stdout
}

// start starts a long-running process; the test's end kills it with the
// container.
func start(t testing.TB, r *Runtime, containerID string, spec runtime.ProcessSpec) (runtime.Process, *syncBuffer, *syncBuffer) {
	t.Helper()
	out, errw := &syncBuffer{}, &syncBuffer{}
	spec.Stdout, spec.Stderr = out, errw
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("p%d", idSeq.Add(1))
	}
	p, err := r.Run(context.Background(), containerID, spec)
	if err != nil {
		t.Fatalf("Run %v: %v", spec.Args, err)
	}
	return p, out, errw
}

// waitFor polls until b contains s.
func waitFor(t testing.TB, b *syncBuffer, s string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(b.String(), s) {
			return fmt.Errorf("output %q has no %q", b.String(), s)
		}
		return nil
	})
}

// httpGet polls url until it answers 200 and returns the body.
func httpGet(t testing.TB, url string) string {
	t.Helper()
	var body string
	c := &http.Client{Timeout: 2 * time.Second}
	testenv.Eventually(t, 10*time.Second, func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		body = string(b)
		return nil
	})
	return body
}

// dialable reports whether a TCP connection to addr succeeds.
func dialable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

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

// hostNetwork is the host-wide state CNI changes: ip_forward (the bridge
// plugin turns it on), /var/lib/cni (libcni's result cache) and the
// portmap plugin's chains.
type hostNetworkState struct {
	ipForward     []byte
	madeVarLibCNI bool
}

func saveHostNetwork() hostNetworkState {
	var s hostNetworkState
	s.ipForward, _ = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	_, err := os.Stat("/var/lib/cni")
	s.madeVarLibCNI = errors.Is(err, os.ErrNotExist)
	return s
}

// restore puts back ip_forward, removes /var/lib/cni if the tests made it
// and it holds no results any more, and removes the portmap chains when
// no rule is left in them (a CNI user on the host keeps its rules).
func (s hostNetworkState) restore() {
	if os.Geteuid() != 0 {
		return
	}
	if len(s.ipForward) > 0 {
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", s.ipForward, 0o644)
	}
	if s.madeVarLibCNI {
		os.Remove("/var/lib/cni/results")
		os.Remove("/var/lib/cni")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return
	}
	// Jumps first, then the chains (the DNAT chain jumps to none of ours
	// once every container is gone).
	jumps := []struct{ table, chain, target string }{
		{"nat", "PREROUTING", "CNI-HOSTPORT-DNAT"},
		{"nat", "OUTPUT", "CNI-HOSTPORT-DNAT"},
		{"nat", "POSTROUTING", "CNI-HOSTPORT-MASQ"},
	}
	// Per-container rules live in the DNAT chain; MASQ and SETMARK hold
	// one fixed rule each.
	if !chainEmpty("nat", "CNI-HOSTPORT-DNAT") {
		return
	}
	for _, j := range jumps {
		// Delete the rules as they are listed (with their matches and
		// comments).
		out, _ := exec.Command("iptables", "-w", "-t", j.table, "-S", j.chain).Output()
		for line := range strings.SplitSeq(string(out), "\n") {
			if rule, ok := strings.CutPrefix(line, "-A "); ok && strings.Contains(rule, "-j "+j.target) {
				// The shell parses the quoted comment back.
				exec.Command("sh", "-c", "iptables -w -t "+j.table+" -D "+rule).Run()
			}
		}
	}
	for _, c := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"} {
		exec.Command("iptables", "-w", "-t", "nat", "-F", c).Run()
		exec.Command("iptables", "-w", "-t", "nat", "-X", c).Run()
	}
}

// chainEmpty reports whether an iptables chain exists and holds no rule,
// or does not exist.
func chainEmpty(table, chain string) bool {
	out, err := exec.Command("iptables", "-w", "-t", table, "-S", chain).Output()
	if err != nil {
		return true
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "-A ") {
			return false
		}
	}
	return true
}

func deleteLink(name string) {
	exec.Command("ip", "link", "del", name).Run()
}

// fifoDirsLeft fails while the cell's FIFO directory is not empty.
func fifoDirsLeft(cfg Config) error {
	entries, err := os.ReadDir(stateDirs(cfg.StateDir).fifo())
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		return fmt.Errorf("FIFO dirs left: %v", names)
	}
	return nil
}
