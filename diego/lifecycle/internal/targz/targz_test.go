package targz

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteExtract(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "bin", "run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/run", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	extra := t.TempDir()
	if err := os.WriteFile(filepath.Join(extra, "x.yml"), []byte("a: b"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Source{Dir: src, Prefix: "app"}, Source{Dir: extra}, Source{Dir: filepath.Join(extra, "missing")}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "app", "bin", "run"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("app/bin/run: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "app", "link")); err != nil || l != "bin/run" {
		t.Fatalf("app/link = %q, %v", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "x.yml")); err != nil || string(b) != "a: b" {
		t.Fatalf("x.yml = %q, %v", b, err)
	}
}
