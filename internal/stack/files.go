package stack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"
	"strings"
)

// The files the build writes go through an os.Root on the rootfs, so that
// no symlink in the new root filesystem can make them land on the host.

// configure writes the stack's apt sources, keeps services from starting
// during the build, and sets the locale defaults.
func configure(root *os.Root, m mirrors) error {
	var list strings.Builder
	fmt.Fprintf(&list, "deb %s %s main\n", m.mirror, strings.Join(m.suites, " "))
	if m.security != "" {
		fmt.Fprintf(&list, "deb %s %s-security main\n", m.security, suite)
	}
	files := []struct {
		name, data string
		mode       fs.FileMode
	}{
		{"etc/apt/sources.list", list.String(), 0o644},
		// No daemon of a package may start in the chroot; removed by cleanUp.
		{"usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755},
		{"etc/locale.gen", Locale + " UTF-8\n", 0o644},
		{"etc/default/locale", "LANG=" + Locale + "\n", 0o644},
		{"etc/environment", "LANG=" + Locale + "\n", 0o644},
		{"etc/profile.d/anvil-locale.sh", ": \"${LANG:=" + Locale + "}\"\nexport LANG\n", 0o644},
		// Nor manuals, info pages, docs (the copyright files are kept) and
		// message translations: nobody reads them in a container.
		{"etc/dpkg/dpkg.cfg.d/anvil-slim", dpkgSlim, 0o644},
		// Never download translations.
		{"etc/apt/apt.conf.d/99anvil", "Acquire::Languages \"none\";\nAPT::Install-Recommends \"false\";\n", 0o644},
	}
	for _, f := range files {
		if err := writeFile(root, f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	// debootstrap's sources.list is the only one.
	return emptyDir(root, "etc/apt/sources.list.d")
}

const dpkgSlim = `# Anvil's stack carries no manuals, info pages, docs or translations.
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
`

// slim removes what dpkgSlim keeps out of packages installed before it was
// written (debootstrap's).
func slim(root *os.Root) error {
	for _, dir := range []string{"usr/share/man", "usr/share/info", "usr/share/lintian"} {
		if err := emptyDir(root, dir); err != nil {
			return err
		}
	}
	if err := emptyDirExcept(root, "usr/share/locale", "locale.alias"); err != nil {
		return err
	}
	f, err := root.Open("usr/share/doc")
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() { // symlinks to another package's docs stay
			if err := emptyDirExcept(root, path.Join("usr/share/doc", e.Name()), "copyright"); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanUp removes what the build leaves behind and what must not be in a
// shared stack: apt caches and lists, logs, leftovers in /proc, /sys, /tmp
// and /run, the
// build machine's DNS settings and host name, and policy-rc.d; and what
// dpkgSlim keeps out.
func cleanUp(root *os.Root) error {
	if err := slim(root); err != nil {
		return err
	}
	for _, dir := range []string{
		"var/cache/apt", "var/lib/apt/lists", "var/log", "proc", "sys",
		"tmp", "var/tmp", "run", "root/.cache", "var/cache/debconf/tmp",
	} {
		if err := emptyDir(root, dir); err != nil {
			return err
		}
	}
	for _, name := range []string{"usr/sbin/policy-rc.d", "var/cache/debconf/config.dat-old", "var/cache/debconf/templates.dat-old", "var/lib/dpkg/status-old"} {
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, f := range []struct{ name, data string }{
		{"etc/resolv.conf", ""}, // the rep bind-mounts the host's
		{"etc/hostname", "localhost\n"},
		{"etc/machine-id", ""},
	} {
		if err := writeFile(root, f.name, f.data, 0o644); err != nil {
			return err
		}
	}
	return root.MkdirAll("var/lib/apt/lists/partial", 0o755)
}

// writeFile replaces name in root with data; a symlink at name is
// replaced, not followed.
func writeFile(root *os.Root, name, data string, mode fs.FileMode) error {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		if err := root.RemoveAll(name); err != nil {
			return err
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// emptyDir removes everything in dir, keeping dir; a missing dir is
// fine.
func emptyDir(root *os.Root, dir string) error { return emptyDirExcept(root, dir, "") }

// emptyDirExcept is emptyDir keeping the entry named keep.
func emptyDirExcept(root *os.Root, dir, keep string) error {
	f, err := root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if err := root.RemoveAll(path.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// prettyName returns PRETTY_NAME from the stack's os-release, which the
// build leaves as Debian wrote it.
func prettyName(root *os.Root) string {
	data, err := root.ReadFile("etc/os-release")
	if err != nil {
		data, err = root.ReadFile("usr/lib/os-release")
		if err != nil {
			return ""
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// devices are the device nodes a stack keeps in /dev, as debootstrap makes
// them. A container runtime mounts its own /dev over them; they are for
// chroot use (tests, debugging), where /dev/null must work.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// ensureDevices creates the missing devices in rootfs/dev (debootstrap
// bind-mounts /dev instead of creating nodes when it runs in a container).
func ensureDevices(root *os.Root, rootfs string) error {
	if err := root.MkdirAll("dev", 0o755); err != nil {
		return err
	}
	fi, err := os.Lstat(filepath.Join(rootfs, "dev"))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s/dev is not a directory", rootfs)
	}
	for _, d := range devices {
		name := "dev/" + d.name
		if fi, err := root.Lstat(name); err == nil && fi.Mode()&fs.ModeCharDevice != 0 {
			continue
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		dev := int(unix.Mkdev(d.major, d.minor))
		if err := unix.Mknod(filepath.Join(rootfs, name), unix.S_IFCHR|0o666, dev); err != nil {
			return fmt.Errorf("mknod %s: %w", name, err)
		}
		if err := root.Chmod(name, 0o666|fs.ModeCharDevice); err != nil {
			return err
		}
	}
	return nil
}
