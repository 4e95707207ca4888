package buildpackzip

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"bin/detect": 0o755, "VERSION": 0o644, "server/main.go": 0o644, "server/testdata/x": 0o644, ".gitignore": 0o644,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	extra := filepath.Join(t.TempDir(), "server")
	if err := os.WriteFile(extra, []byte("ELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Write(&a, dir, Extra{Name: "lib/staticfile-server", Path: extra}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, dir, Extra{Name: "lib/staticfile-server", Path: extra}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two zips of the same tree differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Bytes()), int64(a.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]os.FileMode{}
	for _, f := range zr.File {
		got[f.Name] = f.Mode().Perm()
	}
	want := map[string]os.FileMode{"VERSION": 0o644, "bin/detect": 0o755, "lib/staticfile-server": 0o755}
	if len(got) != len(want) {
		t.Fatalf("zip holds %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s mode %v, want %v", k, got[k], v)
		}
	}
	if err := Write(&a, dir, Extra{Name: "VERSION", Path: extra}); err == nil {
		t.Error("a duplicate name was accepted")
	}
}
