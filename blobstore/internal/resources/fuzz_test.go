package resources

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// FuzzAssemble feeds arbitrary bytes as the uploaded zip. Assemble must
// not panic, must fail only with the package's own errors, and a package it
// stores must be a zip whose every path is safe.
func FuzzAssemble(f *testing.F) {
	f.Add(makeZip(f, zipFile{name: "a/", mode: fs.ModeDir | 0o755}, zipFile{name: "a/b.txt", body: "hello"}))
	f.Add(makeZip(f, zipFile{name: "big", body: strings.Repeat("x", 5000)}, zipFile{name: "l", body: "big", mode: fs.ModeSymlink | 0o777}))
	f.Add(makeZip(f, zipFile{name: "../x", body: "x"}))
	f.Add(makeZip(f, zipFile{name: "l", body: "../../etc", mode: fs.ModeSymlink | 0o777}))
	f.Add(makeZip(f, zipFile{name: "s", body: "stored", stored: true}))
	f.Add(manyEntries(&testing.T{}, 3))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, bits []byte) {
		st := newMemStore()
		cfg := Config{MinSize: 16, MaxSize: 1 << 20, MaxEntries: 50, MaxUncompressed: 1 << 20, MaxPackageSize: 1 << 20, MaxConcurrent: 1}
		s := New(cfg, st, nil)
		_, err := s.Assemble(context.Background(), "p", bytes.NewReader(bits), int64(len(bits)), nil)
		if err != nil {
			for _, want := range []error{ErrInvalidPackage, ErrLimit, storage.ErrTooLarge} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("unexpected error kind: %v", err)
		}
		out, ok := st.get(apiblob.BucketPackages, "p")
		if !ok {
			t.Fatal("Assemble succeeded but stored nothing")
		}
		zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("stored package is not a zip: %v", err)
		}
		seen := map[string]bool{}
		for _, zf := range zr.File {
			p, err := cleanPath(zf.Name)
			if err != nil {
				t.Fatalf("stored package holds unsafe path %q: %v", zf.Name, err)
			}
			if seen[p] {
				t.Fatalf("stored package holds %q twice", p)
			}
			seen[p] = true
			if m := zf.Mode(); !m.IsDir() && !m.IsRegular() && m&fs.ModeSymlink == 0 {
				t.Fatalf("stored package holds %q of mode %v", p, m)
			}
			rc, err := zf.Open()
			if err != nil {
				t.Fatalf("%q: %v", p, err)
			}
			var buf bytes.Buffer
			_, err = buf.ReadFrom(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("stored package entry %q does not read back: %v", p, err)
			}
		}
	})
}

// FuzzDecodeMatch feeds arbitrary match request bodies.
func FuzzDecodeMatch(f *testing.F) {
	sha := strings.Repeat("0", 40)
	f.Add(`{"resources":[]}`)
	f.Add(fmt.Sprintf(`{"resources":[{"sha1":%q,"size":65536,"path":"a","mode":"644"}]}`, sha))
	f.Add(`{"resources":[{"sha1":null,"size":"1"}]}`)
	f.Add(`{"resources":[` + strings.Repeat(`{},`, 10) + `{}]}`)
	f.Add(`[`)
	f.Add(`{"resources":[]}garbage`)
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := DecodeMatch(strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(rs) > apiblob.MaxMatchResources {
			t.Fatalf("accepted %d resources", len(rs))
		}
		for _, r := range rs {
			if !apiblob.ValidSHA1(r.SHA1) || r.Size < 0 {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

// FuzzDecodeAssembly feeds arbitrary resource lists of an assembly.
func FuzzDecodeAssembly(f *testing.F) {
	sha := strings.Repeat("0", 40)
	f.Add(fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"a/b","mode":"755"}]`, sha))
	f.Add(fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"../../etc/passwd"}]`, sha))
	f.Add(fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"a\\b","mode":"99"}]`, sha))
	f.Add(`[]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := DecodeAssembly(strings.NewReader(body), 100)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, r := range rs {
			p, err := cleanPath(r.Path)
			if err != nil || p != r.Path || strings.Contains("/"+p+"/", "/../") || strings.HasPrefix(p, "/") {
				t.Fatalf("accepted path %q", r.Path)
			}
			if _, err := ParseMode(r.Mode); err != nil {
				t.Fatalf("accepted mode %q", r.Mode)
			}
		}
	})
}
