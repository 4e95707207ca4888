package containerd

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// tarEntry is one entry of a test tarball.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

func writeTarball(t *testing.T, gz bool, entries ...tarEntry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tw *tar.Writer
	if gz {
		zw := gzip.NewWriter(f)
		defer zw.Close()
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(f)
	}
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Uid: e.uid, Gid: e.uid, Linkname: e.link,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0),
			PAXRecords: map[string]string{"SCHILY.xattr.user.evil": "x"}}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root")
		}
		t.Skip("needs root (in CI this is a failure)")
	}
}

func TestExtractTarball(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzipped"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "home/vcap"), 0o755); err != nil {
				t.Fatal(err)
			}
			path := writeTarball(t, gz,
				tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
				tarEntry{name: "app/bin/run", body: "#!/bin/sh\n", mode: 0o4755, uid: 0}, // parents missing, setuid
				tarEntry{name: "app/data/", typ: tar.TypeDir, mode: 0o700},
				tarEntry{name: "app/link", typ: tar.TypeSymlink, link: "bin/run"},
				tarEntry{name: "app/hard", typ: tar.TypeLink, link: "app/bin/run"},
				tarEntry{name: "app/dev", typ: tar.TypeChar},
				tarEntry{name: "../../../outside", body: "contained"},
				tarEntry{name: "app/bin/run", body: "#!/bin/sh\necho v2\n", mode: 0o755}, // replaced
			)
			err := extractTarball(context.Background(), root, runtime.Tarball{Path: path, Destination: "/home/vcap/droplet", UID: 2000, GID: 2001})
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			dest := filepath.Join(root, "home/vcap/droplet")
			want := map[string]fs.FileMode{
				"":            fs.ModeDir | 0o755,
				"app":         fs.ModeDir | 0o755,
				"app/bin":     fs.ModeDir | 0o755,
				"app/bin/run": 0o755,
				"app/data":    fs.ModeDir | 0o700,
				"app/link":    fs.ModeSymlink | 0o777,
				"app/hard":    0o755,
				"outside":     0o644,
			}
			for rel, mode := range want {
				fi, err := os.Lstat(filepath.Join(dest, rel))
				if err != nil {
					t.Errorf("%s: %v", rel, err)
					continue
				}
				if fi.Mode() != mode {
					t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), mode)
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != 2000 || st.Gid != 2001 {
					t.Errorf("%s: owned by %d:%d, want 2000:2001", rel, st.Uid, st.Gid)
				}
			}
			if body, _ := os.ReadFile(filepath.Join(dest, "app/bin/run")); string(body) != "#!/bin/sh\necho v2\n" {
				t.Errorf("run: %q, want the second version", body)
			}
			if _, err := os.Lstat(filepath.Join(dest, "app/dev")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a device node was extracted: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(root, "outside")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("../ left the destination: %v", err)
			}
			if n, _ := syscall.Getxattr(filepath.Join(dest, "app/bin/run"), "user.evil", make([]byte, 10)); n > 0 {
				t.Error("an extended attribute was extracted")
			}
			// The destination's parents existed: their owner is kept.
			if fi, _ := os.Stat(filepath.Join(root, "home/vcap")); fi.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Error("an existing parent was chowned")
			}
		})
	}
}

type evil struct {
	path   string // the tarball
	target string // the host file it tries to write
}

// evilTarball plants a symlink to a host directory and writes through it.
func evilTarball(t *testing.T) evil {
	t.Helper()
	hostDir := t.TempDir()
	return evil{
		path: writeTarball(t, false,
			tarEntry{name: "esc", typ: tar.TypeSymlink, link: hostDir},
			tarEntry{name: "esc/pwned", body: "gotcha"},
		),
		target: filepath.Join(hostDir, "pwned"),
	}
}

func TestExtractTarballEscapes(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	hostDir := t.TempDir()
	tests := []struct {
		name    string
		entries []tarEntry
	}{
		{"absolute symlink", []tarEntry{
			{name: "esc", typ: tar.TypeSymlink, link: hostDir},
			{name: "esc/pwned", body: "x"},
		}},
		{"relative symlink", []tarEntry{
			{name: "esc", typ: tar.TypeSymlink, link: "../../../../../../../../" + strings.TrimPrefix(hostDir, "/")},
			{name: "esc/pwned", body: "x"},
		}},
		{"symlink then a file over it", []tarEntry{
			{name: "pwned", typ: tar.TypeSymlink, link: filepath.Join(hostDir, "pwned")},
			{name: "pwned", body: "x"},
		}},
		{"hard link to a host file", []tarEntry{
			{name: "h", typ: tar.TypeLink, link: filepath.Join(hostDir, "pwned")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			path := writeTarball(t, false, tt.entries...)
			extractTarball(context.Background(), root, runtime.Tarball{Path: path, Destination: "/d", UID: 2000, GID: 2000})
			if _, err := os.Lstat(filepath.Join(hostDir, "pwned")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the tarball reached the host: %v", err)
			}
		})
	}
}

func TestTarballsInContainer(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	droplet := writeTarball(t, true,
		tarEntry{name: "app/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "app/start.sh", body: "#!/bin/sh\necho started from the droplet\n", mode: 0o755},
	)
	lifecycle := writeTarball(t, false, tarEntry{name: "builder", body: "x", mode: 0o755})
	c := create(t, r, runtime.ContainerSpec{Tarballs: []runtime.Tarball{
		{Path: droplet, Destination: "/home/vcap", UID: 2000, GID: 2000},
		{Path: lifecycle, Destination: "/tmp/lifecycle", UID: 0, GID: 0},
	}})
	res := run(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/home/vcap/app/start.sh"}})
	if res.Code != 0 || res.stdout != "started from the droplet\n" {
		t.Fatalf("droplet start: %+v %q %q", res.ExitStatus, res.stdout, res.stderr)
	}
	owners := sh(t, r, c.ID, "stat -c '%u:%g %n' /home/vcap/app /home/vcap/app/start.sh /tmp/lifecycle/builder")
	if want := "2000:2000 /home/vcap/app\n2000:2000 /home/vcap/app/start.sh\n0:0 /tmp/lifecycle/builder\n"; owners != want {
		t.Errorf("owners:\n%s\nwant:\n%s", owners, want)
	}
	// vcap owns what it unpacked: it can write there.
	sh(t, r, c.ID, "echo more > /home/vcap/app/new && touch /home/vcap/app/start.sh")
	// Mounts from the cell, read-only and read-write.
	ro, rw := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "f"), []byte("from the cell\n"), 0o644)
	os.Chown(rw, 2000, 2000)
	m := create(t, r, runtime.ContainerSpec{Mounts: []runtime.Mount{
		{Source: ro, Destination: "/opt/ro", ReadOnly: true},
		{Source: rw, Destination: "/opt/rw"},
	}})
	if out := sh(t, r, m.ID, "cat /opt/ro/f; echo hi > /opt/rw/g; touch /opt/ro/x 2>/dev/null || echo read-only"); out != "from the cell\nread-only\n" {
		t.Errorf("mounts: %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(rw, "g")); string(data) != "hi\n" {
		t.Errorf("write through the read-write mount: %q", data)
	}
}
