// Package stagetest runs the real builder and launcher on the
// debian-bookworm stack, the way a cell does, for the tests of the
// go, nodejs, python and ruby buildpacks, whose scripts need the stack's
// runtimes.
//
// Each run is a chroot into a private overlay of the stack: `unshare
// --mount --pid --fork --kill-child` starts a shell in new mount and pid
// namespaces, which mounts an overlayfs (the stack's rootfs as the read-only
// lower layer, an upper layer in the test's temporary directory), /proc, and
// bind-mounts the lifecycle programs at /tmp/lifecycle and the staging
// directory at /tmp/staging (or the extracted droplet at /home/vcap). It
// then runs the program as vcap (2000:2000) with chroot. The shared stack
// is never written, and every mount belongs to the private namespace, so
// the kernel removes them all when its last process exits: nothing is left
// behind even when a test is killed: the unshare process dies with the test
// process (Pdeathsig), --kill-child then kills the namespace's init, a root
// shell that runs the program as a child rather than exec'ing it (changing
// to vcap would clear the program's parent-death signal), and the kernel
// kills every other process of the namespace with it.
//
// This needs root and a built stack (`make stack`). Without them the tests
// skip, except in CI (CI set), where they fail.
package stagetest

import (
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/lifecycle/builder"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
	"github.com/anvilpaas/anvil/internal/stack"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// vcap is the uid and gid staging and apps run as.
const vcap = "2000"

// env is the environment inside the container, as the rep sets it.
var env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=en_US.UTF-8", "HOME=/home/vcap", "TMPDIR=/tmp"}

// RootFS returns the built stack's root filesystem, or skips the test (fails
// it in CI) when the stack is not built or the test is not root.
func RootFS(t testing.TB) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		unavailable("staging on the debian-bookworm stack needs root (chroot, mounts)")
	}
	for _, tool := range []string{"unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("staging on the stack needs %s: %v", tool, err)
		}
	}
	res, err := stack.Find("")
	if err != nil {
		unavailable("the debian-bookworm stack is not built (make stack): %v", err)
	}
	return res.RootFS
}

// mountScript runs in the new namespaces: $1 rootfs, $2 work dir, $3 the
// directory to bind at $4 inside; the rest is the command to run as vcap
// with cwd $5.
const mountScript = `set -euo pipefail
rootfs=$1 work=$2 src=$3 dst=$4 cwd=$5
shift 5
mkdir -p "$work/upper" "$work/ovl" "$work/root"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/ovl" "$work/root"
mount -t proc proc "$work/root/proc"
mkdir -p "$work/root/tmp/lifecycle" "$work/root$dst"
mount --bind "$work/lifecycle" "$work/root/tmp/lifecycle"
mount -o remount,bind,ro "$work/root/tmp/lifecycle"
mount --bind "$src" "$work/root$dst"
# No exec: this shell, root and the namespace's init, stays the parent of
# everything. unshare --kill-child SIGKILLs it when unshare dies, and the
# kernel then kills every process of the namespace. (The program cannot be
# the init: changing to vcap clears its parent-death signal.)
status=0
chroot --userspec=` + vcap + `:` + vcap + ` "$work/root" /usr/bin/env -C "$cwd" "$@" || status=$?
exit "$status"
`

// command returns the command that runs args as vcap in a private overlay of
// rootfs, with dir bound at dst and cwd as the working directory.
func command(t testing.TB, rootfs, dir, dst, cwd string, environ []string, args ...string) *exec.Cmd {
	t.Helper()
	work := t.TempDir()
	bins := lt.Build(t)
	for _, p := range []string{bins.Builder, bins.Launcher} {
		lt.CopyDir(t, p, filepath.Join(work, "lifecycle", filepath.Base(p)))
	}
	argv := append([]string{"--mount", "--pid", "--fork", "--kill-child", "bash", "-c", mountScript, "stagetest",
		rootfs, work, dir, dst, cwd, "-i"}, environ...)
	cmd := exec.Command("unshare", append(argv, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	// The namespace dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// chown gives dir to vcap.
func chown(t testing.TB, dir string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", vcap+":"+vcap, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", dir, err, out)
	}
}

// Stage runs the builder as vcap in the stack on a copy of s.App with
// s.Buildpacks, as a staging task does (the paths are the task's:
// /tmp/app, /tmp/buildpacks, /tmp/cache, /tmp/droplet, …, here under
// /tmp/staging). s.Order and s.CacheDir work as in lifecycletest.
func Stage(t testing.TB, s lt.Stage) lt.Staged {
	t.Helper()
	rootfs := RootFS(t)
	staging := filepath.Join(t.TempDir(), "staging")
	lt.CopyDir(t, s.App, filepath.Join(staging, "app"))
	order := s.Order
	for _, bp := range s.Buildpacks {
		lt.CopyDir(t, bp.Dir, filepath.Join(staging, "buildpacks", builder.BuildpackDirName(bp.Key)))
		if len(s.Order) == 0 {
			order = append(order, bp.Key)
		}
	}
	if s.CacheDir != "" {
		lt.CopyDir(t, s.CacheDir, filepath.Join(staging, "cache"))
	}
	for _, d := range []string{"cache", "out"} {
		if err := os.MkdirAll(filepath.Join(staging, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chown(t, staging)

	const in = "/tmp/staging"
	cmd := command(t, rootfs, staging, in, in, env, "/tmp/lifecycle/builder",
		"-buildDir", in+"/app",
		"-buildpacksDir", in+"/buildpacks",
		"-buildpackOrder", strings.Join(order, ","),
		"-buildArtifactsCacheDir", in+"/cache",
		"-outputDroplet", in+"/out/droplet.tgz",
		"-outputBuildArtifactsCache", in+"/out/cache.tgz",
		"-outputMetadata", in+"/out/result.json",
		fmt.Sprintf("-skipDetect=%t", s.SkipDetect),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	out := lt.Staged{
		Droplet: filepath.Join(staging, "out", "droplet.tgz"),
		Cache:   filepath.Join(staging, "out", "cache.tgz"),
		Stdout:  stdout.String(),
		Stderr:  stderr.String(),
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run builder: %v", err)
	}
	t.Logf("builder exit %d in %v\nstdout:\n%s\nstderr:\n%s", out.ExitCode, time.Since(start).Round(time.Millisecond), out.Stdout, out.Stderr)
	if data, err := os.ReadFile(filepath.Join(staging, "out", "result.json")); err == nil {
		out.ResultJSON = data
		if err := json.Unmarshal(data, &out.Result); err != nil {
			t.Fatalf("result JSON %s: %v", data, err)
		}
	}
	return out
}

// Running is an app the launcher started in the stack: its URL, output
// and Get, as in lifecycletest.
type Running = lt.Running

// Launch extracts droplet at /home/vcap in the stack and starts its web
// process (startCommand empty) or startCommand with the launcher as vcap on a free
// port, the way the rep runs an app; it waits until the app answers HTTP and
// stops it when the test ends.
func Launch(t testing.TB, droplet, startCommand string) *Running {
	t.Helper()
	rootfs := RootFS(t)
	home := lt.Extract(t, droplet)
	chown(t, home)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &Running{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}

	environ := append(append([]string(nil), env...), "PORT="+strconv.Itoa(port), "INSTANCE_INDEX=0")
	cmd := command(t, rootfs, home, "/home/vcap", "/home/vcap", environ, "/tmp/lifecycle/launcher", "app", startCommand, "{}")
	cmd.Stdout, cmd.Stderr = r, r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // --kill-child ends the namespace
		<-exited
		t.Logf("app output:\n%s", r.Output())
	})
	testenv.Eventually(t, 30*time.Second, func() error {
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
