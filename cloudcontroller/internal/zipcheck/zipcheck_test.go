package zipcheck

import (
	"archive/zip"
	"bytes"
	"errors"
	"hash/crc32"
	"io/fs"
	"strings"
	"testing"
)

// entry is one zip entry to write.
type entry struct {
	name string
	body string
	mode fs.FileMode // 0: regular 0644
	// size, when set, is the declared uncompressed size (a lying header).
	size uint64
	// zeros, when set, is a body of that many zero bytes.
	zeros int
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		body := []byte(e.body)
		if e.zeros > 0 {
			body = make([]byte, e.zeros)
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		if e.size != 0 {
			// A raw stored entry whose header lies about its size.
			h.Method = zip.Store
			h.CRC32 = crc32.ChecksumIEEE(body)
			h.CompressedSize64 = uint64(len(body))
			h.UncompressedSize64 = e.size
			fw, err := w.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(body)
			continue
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(body)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func check(b []byte, l Limits) error {
	_, err := Check(bytes.NewReader(b), int64(len(b)), l)
	return err
}

func TestCheck(t *testing.T) {
	t.Parallel()
	link := fs.ModeSymlink | 0o777
	for _, tc := range []struct {
		name    string
		zip     []byte
		limits  Limits
		problem string // "" = accepted
	}{
		{"app", makeZip(t, entry{name: "dir/", mode: fs.ModeDir | 0o755}, entry{name: "dir/index.html", body: "hi"}, entry{name: "run.sh", body: "#!/bin/sh", mode: 0o755}), Limits{}, ""},
		{"empty zip", makeZip(t), Limits{}, ""},
		{"inner symlink", makeZip(t, entry{name: "a/b", body: "x"}, entry{name: "l", body: "a/b", mode: link}, entry{name: "a/up", body: "../l", mode: link}), Limits{}, ""},
		{"not a zip", []byte("hello, this is not a zip file at all"), Limits{}, "not a valid zip"},
		{"dotdot", makeZip(t, entry{name: "../evil", body: "x"}), Limits{}, "escapes the package"},
		{"inner dotdot", makeZip(t, entry{name: "a/../../evil", body: "x"}), Limits{}, "escapes the package"},
		{"absolute", makeZip(t, entry{name: "/etc/passwd", body: "x"}), Limits{}, "absolute path"},
		{"backslash", makeZip(t, entry{name: `..\evil`, body: "x"}), Limits{}, "backslash"},
		{"drive", makeZip(t, entry{name: "C:evil", body: "x"}), Limits{}, "drive letter"},
		{"empty segment", makeZip(t, entry{name: "a//b", body: "x"}), Limits{}, "empty or"},
		{"duplicate", makeZip(t, entry{name: "a", body: "x"}, entry{name: "a", body: "y"}), Limits{}, "two entries"},
		{"symlink escape", makeZip(t, entry{name: "l", body: "../../etc/passwd", mode: link}), Limits{}, "points outside"},
		{"absolute symlink", makeZip(t, entry{name: "l", body: "/etc/passwd", mode: link}), Limits{}, "points outside"},
		{"symlink chain escape", makeZip(t, entry{name: "d/", mode: fs.ModeDir | 0o755}, entry{name: "d/self", body: ".", mode: link}, entry{name: "out", body: "d/self/../..", mode: link}), Limits{}, "points outside"},
		{"symlink loop", makeZip(t, entry{name: "a", body: "b", mode: link}, entry{name: "b", body: "a", mode: link}), Limits{}, "loop"},
		{"below a symlink", makeZip(t, entry{name: "l", body: "d", mode: link}, entry{name: "l/x", body: "x"}), Limits{}, "below a file or symlink"},
		{"device", makeZip(t, entry{name: "dev", mode: fs.ModeDevice | 0o644}), Limits{}, "not a file"},
		{"too many entries", makeZip(t, entry{name: "a"}, entry{name: "b"}, entry{name: "c"}), Limits{MaxEntries: 2}, "more than 2 entries"},
		{"too large", makeZip(t, entry{name: "a", body: strings.Repeat("x", 100)}), Limits{MaxUncompressed: 50}, "larger than 50 bytes"},
		{"bomb", makeZip(t, entry{name: "zeros", zeros: 8 << 20}), Limits{}, "compression ratio"},
		{"lying header", makeZip(t, entry{name: "a", body: strings.Repeat("x", 100), size: 10}), Limits{}, "larger than its header declares"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := check(tc.zip, tc.limits)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ze *Error
			if !errors.As(err, &ze) || !strings.Contains(ze.Reason, tc.problem) {
				t.Fatalf("err = %v, want one containing %q", err, tc.problem)
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	if p, err := CleanPath("dir/"); err != nil || p != "dir" {
		t.Errorf("CleanPath(dir/) = %q, %v", p, err)
	}
	for _, bad := range []string{"", "/", "..", "a/./b", "a\x00", "\xff", strings.Repeat("a", MaxPathBytes+1)} {
		if _, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q) accepted", bad)
		}
	}
}

// FuzzCheck: Check never panics, and what it accepts archive/zip reads
// with every name clean.
func FuzzCheck(f *testing.F) {
	f.Add(makeZip(f, entry{name: "index.html", body: "hi"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		sum, err := Check(bytes.NewReader(b), int64(len(b)), Limits{MaxEntries: 1000, MaxUncompressed: 1 << 20})
		if err != nil {
			var ze *Error
			if !errors.As(err, &ze) {
				t.Fatalf("error of another type: %v", err)
			}
			return
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("accepted but archive/zip refuses: %v", err)
		}
		if len(zr.File) != sum.Entries {
			t.Fatalf("entries %d, summary %d", len(zr.File), sum.Entries)
		}
		for _, f := range zr.File {
			if _, err := CleanPath(f.Name); err != nil {
				t.Fatalf("accepted %q: %v", f.Name, err)
			}
		}
	})
}
