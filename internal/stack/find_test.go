package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeEntry writes a finished-looking cache entry for hash into dir/name.
func fakeEntry(t *testing.T, dir, name, hash string) string {
	t.Helper()
	entry := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(entry, rootfsDir, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(entry, rootfsDir, "usr/bin/bash"), []byte("#!"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(entry, packagesFile), []byte("bash\t5.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeStamp(entry, stamp{
		Name: Name, RecipeHash: hash, RecipeVersion: RecipeVersion, BuiltAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		BuildSeconds: 300, SizeBytes: 1e9, Packages: 1, PackagesFile: packagesFile, RootFS: rootfsDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return entry
}

func TestFind(t *testing.T) {
	t.Parallel()
	hash := RecipeHash()
	final := entryName(hash)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		found bool
	}{
		{"empty cache", func(*testing.T, string) {}, false},
		{"finished build", func(t *testing.T, dir string) { fakeEntry(t, dir, final, hash) }, true},
		{"build in progress or interrupted", func(t *testing.T, dir string) {
			fakeEntry(t, dir, buildPrefix+hash+"-123", hash)
		}, false},
		{"replaced build", func(t *testing.T, dir string) { fakeEntry(t, dir, oldPrefix+final+"-x", hash) }, false},
		{"older recipe", func(t *testing.T, dir string) {
			fakeEntry(t, dir, entryName("0123456789ab"), "0123456789ab")
		}, false},
		{"entry without stamp", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(fakeEntry(t, dir, final, hash), stampFile))
		}, false},
		{"stamp of another recipe", func(t *testing.T, dir string) { fakeEntry(t, dir, final, "0123456789ab") }, false},
		{"corrupt stamp", func(t *testing.T, dir string) {
			entry := fakeEntry(t, dir, final, hash)
			os.WriteFile(filepath.Join(entry, stampFile), []byte(`{"name":`), 0o644)
		}, false},
		{"stamp pointing outside the entry", func(t *testing.T, dir string) {
			entry := fakeEntry(t, dir, final, hash)
			data, _ := os.ReadFile(filepath.Join(entry, stampFile))
			os.WriteFile(filepath.Join(entry, stampFile), []byte(strings.Replace(string(data), `"rootfs": "rootfs"`, `"rootfs": "../../"`, 1)), 0o644)
		}, false},
		{"rootfs without bash", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(fakeEntry(t, dir, final, hash), rootfsDir, "usr/bin/bash"))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.setup(t, dir)
			res, err := Find(dir)
			if !tt.found {
				if !errors.Is(err, ErrNotBuilt) {
					t.Fatalf("Find = %+v, %v; want ErrNotBuilt", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			entry := filepath.Join(dir, final)
			want := Result{
				Name: Name, RecipeHash: hash, Dir: entry, RootFS: filepath.Join(entry, rootfsDir),
				PackagesFile: filepath.Join(entry, packagesFile), StampFile: filepath.Join(entry, stampFile),
				Packages: 1, SizeBytes: 1e9, BuiltAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), BuildTime: 5 * time.Minute,
			}
			if res != want {
				t.Errorf("Find = %+v\nwant %+v", res, want)
			}
		})
	}
}

func TestRemoveLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash := RecipeHash()
	fakeEntry(t, dir, entryName(hash), hash)
	fakeEntry(t, dir, buildPrefix+hash+"-1", hash)
	fakeEntry(t, dir, oldPrefix+entryName(hash)+"-2", hash)
	if err := removeLeftovers(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != entryName(hash) {
		t.Errorf("left %v, want only %s", entries, entryName(hash))
	}
	if _, err := Find(dir); err != nil {
		t.Errorf("Find after removeLeftovers: %v", err)
	}
}

// TestRemoveBuildDirUnmounts checks that a failed build's directory is
// unmounted before it is removed (a /proc left mounted by a killed
// debootstrap must not be walked by RemoveAll).
func TestRemoveBuildDirUnmounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	t.Parallel()
	dir := t.TempDir()
	build := filepath.Join(dir, buildPrefix+"x")
	mnt := filepath.Join(build, "rootfs", "proc")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if m, err := mountsUnder(build); err != nil || len(m) != 1 || m[0] != mnt {
		t.Fatalf("mountsUnder = %v, %v; want [%s]", m, err, mnt)
	}
	if err := removeBuildDir(build); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(build); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("build dir still there: %v", err)
	}
}

func TestUnescapeMount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`/a/b`: "/a/b", `/a\040b`: "/a b", `/tab\011x`: "/tab\tx", `/back\134slash`: `/back\slash`, `/bad\09`: `/bad\09`, `/end\`: `/end\`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		_, err := Build(context.Background(), Options{CacheDir: t.TempDir()})
		if !errors.Is(err, ErrNotRoot) {
			t.Fatalf("Build as non-root: %v, want ErrNotRoot", err)
		}
		return
	}
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"debootstrap missing", Options{Debootstrap: "/nonexistent/debootstrap", Mirror: "http://127.0.0.1:1/debian"}, ErrNoDebootstrap},
		{"http mirror unreachable", Options{Debootstrap: "/bin/true", Mirror: "http://127.0.0.1:1/debian"}, ErrMirrorUnreachable},
		{"file mirror missing", Options{Debootstrap: "/bin/true", Mirror: "file:///nonexistent/debian"}, ErrMirrorUnreachable},
		{"no mirror", Options{Debootstrap: "/bin/true", SourcesFile: "/nonexistent/debian.sources"}, ErrNoMirror},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.CacheDir = t.TempDir()
			_, err := Build(context.Background(), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build: %v, want %v", err, tt.want)
			}
			t.Log(err)
			entries, _ := os.ReadDir(tt.opts.CacheDir)
			for _, e := range entries {
				if e.Name() != ".lock" {
					t.Errorf("failed build left %s", e.Name())
				}
			}
		})
	}
}
