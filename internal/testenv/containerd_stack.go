package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/devstack"
)

// BusyboxUID and BusyboxGID are the vcap user of BusyboxStack.
const BusyboxUID, BusyboxGID = devstack.VcapUID, devstack.VcapGID

var busybox struct {
	once sync.Once
	dir  string
	err  error
}

// BusyboxStack returns a root filesystem directory for container tests,
// built once per test binary (in well under a second) and removed by Main:
// a static busybox in /bin with a symlink per applet (sh, httpd, wget, nc,
// head, ...), /usr/bin/env, /etc/passwd and /etc/group with root and vcap
// (2000:2000), vcap's home /home/vcap, and /tmp. Treat it as read-only.
//
// It needs root (for the ownership) and busybox-static; without them the
// test is skipped, unless CI is set.
func BusyboxStack(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatalf("testenv.BusyboxStack needs the package's TestMain to call testenv.Main, so the stack is removed after the last test; add:\n\n\tfunc TestMain(m *testing.M) { testenv.Main(m) }")
		return ""
	}
	busybox.once.Do(func() { busybox.dir, busybox.err = buildBusyboxStack() })
	if busybox.err != nil {
		containerdUnavailable(t, busybox.err)
		return ""
	}
	return busybox.dir
}

func buildBusyboxStack() (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: building the busybox stack needs root", ErrContainerdMissing)
	}
	sweepStaleBusybox()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", busyboxPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	if err := devstack.Busybox(dir); err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, devstack.ErrNoStaticBusybox) {
			return "", fmt.Errorf("%w: %v", ErrContainerdMissing, err)
		}
		return "", err
	}
	return dir, nil
}

const busyboxPrefix = "anvil-testenv-busybox-"

// sweepStaleBusybox removes the stacks of test binaries that died before
// Main's teardown (the directory name carries the binary's pid).
func sweepStaleBusybox() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), busyboxPrefix+"*"))
	for _, dir := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), busyboxPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && syscall.Kill(n, 0) == nil {
			continue
		}
		if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.RemoveAll(dir)
		}
	}
}

func removeBusyboxStack() {
	if busybox.dir != "" {
		os.RemoveAll(busybox.dir)
	}
}
