package stack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// builder runs the build steps in dir (rootfs, build.log, packages.txt).
type builder struct {
	p           progress
	dir         string
	rootfs      string
	mirrors     mirrors
	debootstrap string
	chroot      string
	log         *os.File

	// set by the steps
	packages  int
	osRelease string
}

func (b *builder) run(ctx context.Context) (err error) {
	b.log, err = os.Create(filepath.Join(b.dir, buildLog))
	if err != nil {
		return err
	}
	defer b.log.Close()

	step := time.Now()
	b.p.printf("debootstrap --variant=%s %s from %s…", variant, suite, b.mirrors.mirror)
	if err := b.cmd(ctx, b.debootstrap, "--variant="+variant, suite, b.rootfs, b.mirrors.mirror); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	b.p.printf("debootstrap done in %s", since(step))

	root, err := os.OpenRoot(b.rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := configure(root, b.mirrors); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := b.inChroot(ctx, root); err != nil {
		return err
	}
	if err := b.recordPackages(ctx); err != nil {
		return err
	}
	step = time.Now()
	if mounts, err := mountsUnder(b.rootfs); err != nil || len(mounts) > 0 {
		return fmt.Errorf("clean up: still mounted in the rootfs: %v %v", mounts, err)
	}
	if err := cleanUp(root); err != nil {
		return fmt.Errorf("clean up: %w", err)
	}
	if err := ensureDevices(root, b.rootfs); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	b.osRelease = prettyName(root)
	b.p.printf("cleaned up in %s", since(step))
	return nil
}

// inChroot runs the steps that need /proc in the chroot, and always
// unmounts it.
func (b *builder) inChroot(ctx context.Context, root *os.Root) (err error) {
	proc := filepath.Join(b.rootfs, "proc")
	if err := root.MkdirAll("proc", 0o555); err != nil {
		return err
	}
	if err := syscall.Mount("proc", proc, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc in the chroot: %w", err)
	}
	defer func() {
		if uerr := unmount(proc); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()

	step := time.Now()
	b.p.printf("apt-get update…")
	if err := b.inRoot(ctx, "apt-get", "update"); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	b.p.printf("installing %d packages…", len(Packages))
	args := append([]string{"apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold"}, Packages...)
	if err := b.inRoot(ctx, args...); err != nil {
		return fmt.Errorf("apt-get install: %w", err)
	}
	if err := b.inRoot(ctx, "apt-get", "dist-upgrade", "-y", "--no-install-recommends"); err != nil {
		return fmt.Errorf("apt-get dist-upgrade: %w", err)
	}
	b.p.printf("packages installed in %s", since(step))

	step = time.Now()
	if err := b.inRoot(ctx, "locale-gen"); err != nil {
		return fmt.Errorf("locale-gen: %w", err)
	}
	uid := fmt.Sprint(VcapUID)
	if err := b.inRoot(ctx, "groupadd", "-g", uid, "vcap"); err != nil {
		return fmt.Errorf("add group vcap: %w", err)
	}
	if err := b.inRoot(ctx, "useradd", "-u", uid, "-g", uid, "-m", "-d", "/home/vcap", "-s", "/bin/bash", "vcap"); err != nil {
		return fmt.Errorf("add user vcap: %w", err)
	}
	if err := b.inRoot(ctx, "apt-get", "clean"); err != nil {
		return fmt.Errorf("apt-get clean: %w", err)
	}
	b.p.printf("locale %s and user vcap (%s) in %s", Locale, uid, since(step))
	return nil
}

// recordPackages writes dpkg-query -W into packages.txt.
func (b *builder) recordPackages(ctx context.Context) error {
	var out bytes.Buffer
	cmd := b.command(ctx, b.chroot, append([]string{b.rootfs}, "dpkg-query", "-W")...)
	cmd.Env = aptEnv
	cmd.Stdout = &out
	if err := b.wait(ctx, cmd); err != nil {
		return fmt.Errorf("dpkg-query: %w", err)
	}
	b.packages = bytes.Count(out.Bytes(), []byte("\n"))
	return os.WriteFile(filepath.Join(b.dir, packagesFile), out.Bytes(), 0o644)
}

func (b *builder) inRoot(ctx context.Context, args ...string) error {
	cmd := b.command(ctx, b.chroot, append([]string{b.rootfs}, args...)...)
	cmd.Env = aptEnv
	cmd.Stdout = b.log
	return b.wait(ctx, cmd)
}

func (b *builder) cmd(ctx context.Context, name string, args ...string) error {
	cmd := b.command(ctx, name, args...)
	cmd.Env = aptEnv
	cmd.Stdout = b.log
	return b.wait(ctx, cmd)
}

// command prepares a command in its own process group. Cancelling ctx
// sends SIGTERM to the group (debootstrap's traps unmount what it
// mounted), and SIGKILL to the leader 30 s later.
func (b *builder) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	fmt.Fprintf(b.log, "+ %s\n", strings.Join(cmd.Args, " "))
	return cmd
}

// wait runs cmd with stderr going to the build log and to a buffer whose
// last lines the error carries.
func (b *builder) wait(ctx context.Context, cmd *exec.Cmd) error {
	var tail tailBuffer
	cmd.Stderr = io.MultiWriter(b.log, &tail)
	if cmd.Stdout == b.log {
		cmd.Stdout = io.MultiWriter(b.log, &tail)
	}
	if err := cmd.Run(); err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%s: %w\n%s(full log: %s)", strings.Join(cmd.Args, " "), err, tail.String(), b.log.Name())
	}
	return nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// tailBuffer keeps the last 15 lines written to it.
type tailBuffer struct{ lines []string }

func (t *tailBuffer) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		t.lines = append(t.lines, sc.Text())
		if len(t.lines) > 15 {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	var s strings.Builder
	for _, l := range t.lines {
		s.WriteString("  " + l + "\n")
	}
	return s.String()
}
