package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

func TestContainerdUnavailableSkipsOnlyOutsideCI(t *testing.T) {
	// t.Setenv: not parallel.
	missing := fmt.Errorf("%w: runc not found in PATH", ErrContainerdMissing)
	other := errors.New("containerd exited before serving")
	tests := []struct {
		name      string
		ci        string
		err       error
		wantSkip  bool
		wantFatal bool
	}{
		{"missing on a laptop", "", missing, true, false},
		{"missing in CI", "true", missing, false, true},
		{"start failure on a laptop", "", other, false, true},
		{"start failure in CI", "true", other, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recordingTB{TB: t}
			containerdUnavailable(r, tt.err)
			if (r.skip != "") != tt.wantSkip || (r.fatal != "") != tt.wantFatal {
				t.Fatalf("skip = %q, fatal = %q; want skip %v, fatal %v", r.skip, r.fatal, tt.wantSkip, tt.wantFatal)
			}
			if msg := r.skip + r.fatal; !strings.Contains(msg, tt.err.Error()) {
				t.Errorf("message %q does not carry the cause", msg)
			}
		})
	}
}

func TestNamespaceName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)
	tests := []struct {
		pid  int
		seq  int64
		test string
		want string
	}{
		{123, 1, "TestFoo", "t123-1-testfoo"},
		{123, 2, "TestFoo/sub test--#01", "t123-2-testfoo-sub-test-01"},
		{99999, 7, "/_x_/", "t99999-7-x"},
		{1, 1, strings.Repeat("TestVeryLongName", 10), "t1-1-testverylongnametestverylongnametestverylongnametestver"},
	}
	for _, tt := range tests {
		got := namespaceName(tt.pid, tt.seq, tt.test)
		if got != tt.want {
			t.Errorf("namespaceName(%d, %d, %q) = %q, want %q", tt.pid, tt.seq, tt.test, got, tt.want)
		}
		if !valid.MatchString(got) || len(got) > 76 {
			t.Errorf("%q is not a valid containerd namespace", got)
		}
	}
}

func TestContainerd(t *testing.T) {
	t.Parallel()
	a := Containerd(t)
	b := Containerd(t)
	if a.Socket != b.Socket {
		t.Errorf("two sockets %s and %s: want one daemon per test binary", a.Socket, b.Socket)
	}
	if a.Namespace == b.Namespace {
		t.Errorf("namespace %s handed out twice", a.Namespace)
	}
	out, err := exec.Command("ctr", "--address", a.Socket, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Server:") {
		t.Errorf("ctr version printed no server:\n%s", out)
	}
	// A container left behind is killed and deleted when the test ends.
	stack := BusyboxStack(t)
	d := ctrShared.d
	t.Cleanup(func() {
		if out, _ := d.ctr(a.Namespace, "containers", "list", "--quiet"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left in %s after purge: %s", a.Namespace, out)
		}
	})
	if _, err := d.ctr(a.Namespace, "run", "--detach", "--rootfs", stack, "leaky", "/bin/sleep", "600"); err != nil {
		t.Fatal(err)
	}
	if err := d.purge(a.Namespace); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/run/containerd/runc", a.Namespace)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runc state dir of %s left behind: %v", a.Namespace, err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", a.Namespace)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("memory cgroup of %s left behind: %v", a.Namespace, err)
	}
}

func TestBusyboxStack(t *testing.T) {
	t.Parallel()
	dir := BusyboxStack(t)
	if again := BusyboxStack(t); again != dir {
		t.Errorf("second call built %s, want the first stack %s", again, dir)
	}
	for _, p := range []string{"bin/busybox", "bin/sh", "bin/httpd", "bin/wget", "usr/bin/env", "etc/passwd", "etc/group", "tmp"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("stack lacks %s: %v", p, err)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "vcap:x:2000:2000:vcap:/home/vcap:") {
		t.Errorf("etc/passwd has no vcap 2000:2000: %q, %v", passwd, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "home/vcap"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != BusyboxUID || st.Gid != BusyboxGID {
		t.Errorf("home/vcap owned by %d:%d, want %d:%d", st.Uid, st.Gid, BusyboxUID, BusyboxGID)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp mode %v, %v: want sticky 0777", fi.Mode(), err)
	}
	out, err := exec.Command(filepath.Join(dir, "bin/sh"), "-c", "echo ok").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("stack's sh: %q, %v", out, err)
	}
}
