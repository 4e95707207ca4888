package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ContainerdEnv is a namespace of its own for one test in the test
// binary's private containerd daemon.
type ContainerdEnv struct {
	// Socket is the daemon's gRPC socket.
	Socket string
	// Namespace is unique to the test (and to the test binary, so that
	// concurrent binaries never share runc state or cgroups, which are
	// keyed by namespace and container id host-wide).
	Namespace string
}

// ErrContainerdMissing is wrapped by the error of a machine that cannot run
// containerd tests: not root, or containerd, ctr or runc not installed.
var ErrContainerdMissing = errors.New("containerd unavailable")

// containerdStartTimeout bounds the wait for the daemon's socket.
const containerdStartTimeout = 20 * time.Second

const (
	ctrDirPrefix = "anvil-testenv-ctr-"
	runDir       = "/run/containerd"
)

var (
	ctrShared struct {
		once sync.Once
		d    *ctrDaemon
		err  error
	}
	ctrSeq atomic.Int64
)

// Containerd returns the test binary's private containerd daemon, started
// on first use, and a fresh namespace for the test. When the test ends, the
// namespace's leftover containers are killed and deleted and its empty
// cgroup and runc state directories removed; the runtime under test is
// expected to have cleaned up its own networks. The daemon is stopped and
// its directories are deleted by Main, which the package's TestMain must
// call.
//
// Without root or the containerd, ctr and runc binaries the test is
// skipped, unless CI is set: in CI it fails.
func Containerd(t testing.TB) ContainerdEnv {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatalf("testenv.Containerd needs the package's TestMain to call testenv.Main, so the shared daemon is stopped after the last test; add:\n\n\tfunc TestMain(m *testing.M) { testenv.Main(m) }")
		return ContainerdEnv{}
	}
	if err := containerdRequirements(); err != nil {
		containerdUnavailable(t, err)
		return ContainerdEnv{}
	}
	ctrShared.once.Do(func() { ctrShared.d, ctrShared.err = startContainerd() })
	if ctrShared.err != nil {
		t.Fatalf("testenv: start containerd: %v", ctrShared.err)
		return ContainerdEnv{}
	}
	d := ctrShared.d
	ns := namespaceName(os.Getpid(), ctrSeq.Add(1), t.Name())
	d.addNamespace(ns)
	t.Cleanup(func() {
		if err := d.purge(ns); err != nil {
			t.Logf("testenv: clean up containerd namespace %s: %v", ns, err)
		}
	})
	return ContainerdEnv{Socket: d.socket, Namespace: ns}
}

// containerdRequirements returns an ErrContainerdMissing error naming what
// this machine lacks.
func containerdRequirements() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: tests must run as root", ErrContainerdMissing)
	}
	for _, bin := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s not found in PATH (apt-get install containerd runc)", ErrContainerdMissing, bin)
		}
	}
	return nil
}

// containerdUnavailable skips the test on a developer machine and fails it
// in CI, where tests must never skip.
func containerdUnavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrContainerdMissing) && os.Getenv("CI") == "" {
		t.Skipf("testenv: skipping: %v (in CI this is a failure)", err)
		return
	}
	t.Fatalf("testenv: %v", err)
}

// namespaceName makes a containerd namespace name (letters and digits in
// groups joined by single dashes, at most 76) from the binary's pid, a
// sequence number and the test name.
func namespaceName(pid int, seq int64, testName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t%d-%d", pid, seq)
	dash := true
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 60 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	return b.String()
}

// ctrDaemon is a running private containerd.
type ctrDaemon struct {
	dir, socket string
	pid         int
	exited      chan struct{} // closed when the daemon has exited
	log         string
	// madeRunDir is whether /run/containerd (runc state, shim sockets,
	// FIFOs: host-wide, whatever the daemon's config says) did not exist
	// before the daemon started, so stop removes it once empty.
	madeRunDir bool

	mu         sync.Mutex
	namespaces []string
}

func (d *ctrDaemon) addNamespace(ns string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.namespaces = append(d.namespaces, ns)
}

// startContainerd starts a daemon with its own root, state, sockets and
// opt directory under a new temporary directory, and waits for its socket.
func startContainerd() (*ctrDaemon, error) {
	sweepStaleContainerd()
	_, err := os.Stat(runDir)
	madeRunDir := errors.Is(err, os.ErrNotExist)
	dir, err := os.MkdirTemp("", ctrDirPrefix)
	if err != nil {
		return nil, err
	}
	// Debian's containerd 1.6 reads version 2 configs. CRI is disabled
	// (it would want its own CNI config); so are the snapshotters that
	// cannot load here and only fill the log.
	socket := filepath.Join(dir, "c.sock")
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, socket+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d, err := runContainerd(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.madeRunDir = madeRunDir
	return d, nil
}

// runContainerd starts containerd on the config in dir and waits for its
// socket.
func runContainerd(dir string) (*ctrDaemon, error) {
	d := &ctrDaemon{
		dir:    dir,
		socket: filepath.Join(dir, "c.sock"),
		exited: make(chan struct{}),
		log:    filepath.Join(dir, "containerd.log"),
	}
	logf, err := os.OpenFile(d.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig is sent when the thread that started the child exits,
		// and Go ends threads that exit locked (netns code does that). This
		// goroutine keeps its thread until the daemon is gone, so the
		// daemon gets SIGTERM only when the test binary dies.
		runtime.LockOSThread()
		defer logf.Close()
		cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		d.pid = cmd.Process.Pid
		started <- nil
		cmd.Wait()
		close(d.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	os.WriteFile(filepath.Join(dir, "containerd.pid"), []byte(strconv.Itoa(d.pid)), 0o600)
	deadline := time.Now().Add(containerdStartTimeout)
	for {
		if c, err := net.Dial("unix", d.socket); err == nil {
			c.Close()
			return d, nil
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("containerd exited before serving; log %s:\n%s", d.log, tail(d.log, 20))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(d.pid, syscall.SIGKILL)
			<-d.exited
			return nil, fmt.Errorf("containerd did not serve %s within %v", d.socket, containerdStartTimeout)
		}
	}
}

// ctr runs the ctr CLI against the daemon in namespace ns.
func (d *ctrDaemon) ctr(ns string, args ...string) (string, error) {
	cmd := exec.Command("ctr", append([]string{"--address", d.socket, "--namespace", ns, "--timeout", "30s"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// purge kills and deletes the containers left in ns and removes the
// namespace's empty cgroups and runc state directory. Snapshots stay
// until the daemon's root is deleted.
func (d *ctrDaemon) purge(ns string) error {
	out, err := d.ctr(ns, "containers", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for id := range strings.FieldsSeq(out) {
		d.ctr(ns, "tasks", "kill", "--all", "--signal", "SIGKILL", id) // may have no task
		d.ctr(ns, "tasks", "delete", "--force", id)
		if _, err := d.ctr(ns, "containers", "delete", id); err != nil {
			errs = append(errs, err)
		}
	}
	removeNamespaceDirs(ns)
	return errors.Join(errs...)
}

// removeNamespaceDirs removes the per-namespace directories runc and
// containerd leave on the host: one cgroup per hierarchy and runc's state.
func removeNamespaceDirs(ns string) {
	if hier, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, h := range hier {
			os.Remove(filepath.Join("/sys/fs/cgroup", h.Name(), ns))
		}
	}
	os.Remove(filepath.Join("/sys/fs/cgroup", ns)) // cgroup v2
	os.Remove(filepath.Join(runDir, "runc", ns))
}

// stop purges every namespace handed out, stops the daemon, unmounts what
// is left under its directory and removes it.
func (d *ctrDaemon) stop() error {
	var errs []error
	d.mu.Lock()
	nss := slices.Clone(d.namespaces)
	d.mu.Unlock()
	for _, ns := range nss {
		if err := d.purge(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if p, err := os.FindProcess(d.pid); err == nil {
		p.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			p.Kill()
			<-d.exited
		}
	}
	killShims(d.socket)
	if err := unmountUnder(d.dir); err != nil {
		errs = append(errs, err)
		return errors.Join(errs...) // never RemoveAll through a mount
	}
	if err := os.RemoveAll(d.dir); err != nil {
		errs = append(errs, err)
	}
	if d.madeRunDir {
		// Only empty directories go: another daemon may use them now.
		for _, sub := range []string{"runc", "s", "fifo", ""} {
			os.Remove(filepath.Join(runDir, sub))
		}
	}
	return errors.Join(errs...)
}

// killShims kills the shims still serving containers of the daemon at
// socket once it is gone: a test binary killed in the middle of a create
// leaves one the purge cannot see.
func killShims(socket string) {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == socket {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder lazily unmounts every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountPath(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, mp := range points {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// sweepStaleContainerd cleans up after test binaries that died before
// Main's teardown (a panic, -timeout, os.Exit): their daemon got SIGTERM,
// but the containers live on with their shims. For each such directory
// (its daemon is dead) it starts the daemon again, kills and deletes the
// containers of every namespace, stops it and removes the directory.
func sweepStaleContainerd() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), ctrDirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "containerd.pid"))
		if err != nil {
			if time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir) // never got as far as starting
			}
			continue // or is starting now
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && isContainerd(pid) {
			continue // alive: another test binary's
		}
		d, err := runContainerd(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testenv: restart stale containerd in %s: %v\n", dir, err)
			continue
		}
		if out, err := d.ctr("default", "namespaces", "list", "--quiet"); err == nil {
			for ns := range strings.FieldsSeq(out) {
				d.addNamespace(ns)
			}
		}
		if err := d.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: clean up stale containerd in %s: %v\n", dir, err)
		}
	}
}

// isContainerd reports whether pid is a running containerd.
func isContainerd(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0]) == "containerd"
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopContainerd stops the shared daemon and removes the busybox stack,
// from Main's teardown.
func stopContainerd() {
	if d := ctrShared.d; d != nil {
		if err := d.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop containerd: %v\n", err)
		}
	}
	removeBusyboxStack()
}
