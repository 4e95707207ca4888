// Package devstack builds the busybox stack: a root filesystem of one
// static busybox binary and its applets, with a vcap user (uid 2000) and
// /home/vcap. It is the cheap stack the rep's tests and the dev platform
// run containers on until a real stack is imported; it is no substitute for
// one (no libc, no language runtimes).
package devstack

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VcapUID and VcapGID are the vcap user of the stack.
const VcapUID, VcapGID = 2000, 2000

// ErrNoStaticBusybox means the machine has no statically linked busybox.
var ErrNoStaticBusybox = errors.New("no static busybox in /bin or /usr/bin (apt-get install busybox-static)")

// Busybox builds the stack into dir, which must exist and be empty. It
// needs root (files owned by vcap).
func Busybox(dir string) error {
	bin, err := staticBusybox()
	if err != nil {
		return err
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	if err := populateBusyboxStack(dir, bin, strings.Fields(string(list))); err != nil {
		return fmt.Errorf("build busybox stack: %w", err)
	}
	return nil
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
	return "", ErrNoStaticBusybox
}

func populateBusyboxStack(dir, bin string, applets []string) error {
	type entry struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}
	for _, e := range []entry{
		{"bin", 0o755, 0, 0}, {"usr/bin", 0o755, 0, 0}, {"etc", 0o755, 0, 0},
		{"home", 0o755, 0, 0}, {"home/vcap", 0o755, VcapUID, VcapGID},
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
