package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCleanUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	t.Parallel()
	rootfs := t.TempDir()
	for name, data := range map[string]string{
		"var/cache/apt/archives/bash_5.2_amd64.deb": "x",
		"var/cache/apt/pkgcache.bin":                "x",
		"var/lib/apt/lists/deb.debian.org_Packages": "x",
		"var/log/apt/history.log":                   "x",
		"usr/share/man/man1/bash.1.gz":              "x",
		"usr/share/doc/bash/copyright":              "keep",
		"usr/share/doc/bash/changelog.gz":           "x",
		"usr/share/locale/de/LC_MESSAGES/apt.mo":    "x",
		"usr/share/locale/locale.alias":             "keep",
		"usr/sbin/policy-rc.d":                      "x",
		"tmp/leftover":                              "x",
		"etc/resolv.conf":                           "nameserver 10.0.0.1\n",
		"usr/bin/bash":                              "keep",
		"dev/null":                                  "not a device",
	} {
		p := filepath.Join(rootfs, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink in the new rootfs must not make the build write on the host.
	outside := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(outside, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rootfs, "etc/hostname")); err != nil {
		t.Fatal(err)
	}

	root, err := os.OpenRoot(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := cleanUp(root); err != nil {
		t.Fatal(err)
	}
	if err := ensureDevices(root, rootfs); err != nil {
		t.Fatal(err)
	}

	var left []string
	filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, rootfs+"/"))
		}
		return nil
	})
	want := []string{
		"dev/full", "dev/null", "dev/random", "dev/tty", "dev/urandom", "dev/zero",
		"etc/hostname", "etc/machine-id", "etc/resolv.conf",
		"usr/bin/bash", "usr/share/doc/bash/copyright", "usr/share/locale/locale.alias",
	}
	if !slices.Equal(left, want) {
		t.Errorf("left %v\nwant %v", left, want)
	}
	if data, _ := os.ReadFile(outside); string(data) != "host\n" {
		t.Errorf("the build wrote through a symlink onto the host: %q", data)
	}
	if fi, err := os.Lstat(filepath.Join(rootfs, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Mode().Perm() != 0o666 {
		t.Errorf("dev/null: %v %v", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(filepath.Join(rootfs, "etc/resolv.conf")); len(data) != 0 {
		t.Errorf("resolv.conf kept the build machine's DNS: %q", data)
	}
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc/apt/sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc/apt/sources.list.d/other.sources"), []byte("x"), 0o644)
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	m := mirrors{"http://m.example/debian", []string{"bookworm", "bookworm-updates"}, "http://s.example/debian-security"}
	if err := configure(root, m); err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join(rootfs, "etc/apt/sources.list"))
	if want := "deb http://m.example/debian bookworm bookworm-updates main\ndeb http://s.example/debian-security bookworm-security main\n"; string(list) != want {
		t.Errorf("sources.list = %q, want %q", list, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(rootfs, "etc/apt/sources.list.d")); len(entries) != 0 {
		t.Errorf("sources.list.d not emptied: %v", entries)
	}
	for name, want := range map[string]string{"etc/locale.gen": "en_US.UTF-8 UTF-8\n", "etc/default/locale": "LANG=en_US.UTF-8\n"} {
		if data, _ := os.ReadFile(filepath.Join(rootfs, name)); string(data) != want {
			t.Errorf("%s = %q, want %q", name, data, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(rootfs, "usr/sbin/policy-rc.d")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("policy-rc.d: %v", err)
	}
}
