package testenv

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BusyboxUID and BusyboxGID are the vcap user of BusyboxStack.
const BusyboxUID, BusyboxGID = 2000, 2000

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
	bin, err := staticBusybox()
	if err != nil {
		return "", err
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	sweepStaleBusybox()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", busyboxPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	if err := populateBusyboxStack(dir, bin, strings.Fields(string(list))); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("build busybox stack: %w", err)
	}
	return dir, nil
}

// staticBusybox finds a statically linked busybox: a dynamic one would not
// run in a stack without a libc.
func staticBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no static busybox in /bin or /usr/bin (apt-get install busybox-static)", ErrContainerdMissing)
}

func populateBusyboxStack(dir, bin string, applets []string) error {
	type entry struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}
	for _, e := range []entry{
		{"bin", 0o755, 0, 0}, {"usr/bin", 0o755, 0, 0}, {"etc", 0o755, 0, 0},
		{"home", 0o755, 0, 0}, {"home/vcap", 0o755, BusyboxUID, BusyboxGID},
		{"root", 0o700, 0, 0}, {"tmp", 0o777 | os.ModeSticky, 0, 0}, {"var/tmp", 0o777 | os.ModeSticky, 0, 0},
		{"proc", 0o555, 0, 0}, {"sys", 0o555, 0, 0}, {"dev", 0o755, 0, 0}, {"run", 0o755, 0, 0},
	} {
		p := filepath.Join(dir, e.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chown(p, e.uid, e.gid); err != nil {
			return err
		}
		if err := os.Chmod(p, e.mode); err != nil {
			return err
		}
	}
	if err := copyFile(filepath.Join(dir, "bin/busybox"), bin, 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	if err := os.Symlink("/bin/busybox", filepath.Join(dir, "usr/bin/env")); err != nil {
		return err
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:2000:vcap:/home/vcap:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nvcap:x:2000:\nnogroup:x:65534:\n",
		"etc/hosts":  "127.0.0.1\tlocalhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
