package resources

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	big := strings.Repeat("b", 4096)
	cached := cacheFile(t, st, big)
	tiny := cacheFile(t, st, "tiny") // below MinSize: never matched
	other := strings.Repeat("o", 2048)
	query := []apiblob.Resource{
		{SHA1: sum1(other), Size: int64(len(other)), Path: "missing.txt", Mode: "644"},
		{SHA1: cached.SHA1, Size: cached.Size, Path: "big.bin", Mode: "755"},
		{SHA1: cached.SHA1, Size: cached.Size + 1, Path: "wrong-size.bin", Mode: "644"},
		{SHA1: tiny.SHA1, Size: tiny.Size, Path: "tiny", Mode: "644"},
		{SHA1: cached.SHA1, Size: cached.Size, Path: "copy/big.bin", Mode: "600"},
	}
	got, err := s.Match(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	want := []apiblob.Resource{query[1], query[4]}
	if !slices.Equal(got, want) {
		t.Errorf("Match = %+v, want %+v (in order, echoed unchanged)", got, want)
	}
	if got, err := s.Match(context.Background(), nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Match(nil) = %#v, %v; want an empty, non-nil list", got, err)
	}
}

func TestDecodeMatch(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("a", 40)
	entry := fmt.Sprintf(`{"sha1":%q,"size":70000}`, sha)
	many := func(n int) string {
		return `{"resources":[` + strings.TrimSuffix(strings.Repeat(entry+",", n), ",") + `]}`
	}
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr error
	}{
		{"empty list", `{"resources":[]}`, 0, nil},
		{"one with extras", fmt.Sprintf(`{"resources":[{"sha1":%q,"size":1,"path":"a","mode":"644","future":true}],"x":1}`, sha), 1, nil},
		{"the most", many(apiblob.MaxMatchResources), apiblob.MaxMatchResources, nil},
		{"too many", many(apiblob.MaxMatchResources + 1), 0, ErrLimit},
		{"body too large", `{"resources":[],"pad":"` + strings.Repeat("x", apiblob.MaxMatchBodyBytes) + `"}`, 0, ErrLimit},
		{"not JSON", `resources`, 0, ErrInvalidRequest},
		{"trailing data", `{"resources":[]} {}`, 0, ErrInvalidRequest},
		{"wrong type", `{"resources":{}}`, 0, ErrInvalidRequest},
		{"uppercase sha1", fmt.Sprintf(`{"resources":[{"sha1":%q,"size":1}]}`, strings.ToUpper(strings.Repeat("f", 40))), 0, ErrInvalidRequest},
		{"short sha1", `{"resources":[{"sha1":"abc","size":1}]}`, 0, ErrInvalidRequest},
		{"negative size", fmt.Sprintf(`{"resources":[{"sha1":%q,"size":-1}]}`, sha), 0, ErrInvalidRequest},
		{"float size", fmt.Sprintf(`{"resources":[{"sha1":%q,"size":1.5}]}`, sha), 0, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeMatch(strings.NewReader(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("got %d, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func TestDecodeAssembly(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("a", 40)
	ok := fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"a/b.txt","mode":"755"},{"sha1":%q,"size":2,"path":"c"}]`, sha, sha)
	if rs, err := DecodeAssembly(strings.NewReader(ok), 10); err != nil || len(rs) != 2 {
		t.Fatalf("DecodeAssembly = %v, %v", rs, err)
	}
	if _, err := DecodeAssembly(strings.NewReader(ok), 1); !errors.Is(err, ErrLimit) {
		t.Errorf("over count: %v", err)
	}
	for _, bad := range []string{
		fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"../x"}]`, sha),
		fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"/etc/passwd"}]`, sha),
		fmt.Sprintf(`[{"sha1":%q,"size":1}]`, sha),
		fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"a","mode":"9"}]`, sha),
		fmt.Sprintf(`[{"sha1":%q,"size":1,"path":"a","mode":"rwx"}]`, sha),
		`[{"sha1":"zz","size":1,"path":"a"}]`,
		`{}`,
	} {
		if _, err := DecodeAssembly(strings.NewReader(bad), 10); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("DecodeAssembly(%s) = %v, want ErrInvalidRequest", bad, err)
		}
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]fs.FileMode{"": 0o644, "644": 0o644, "0755": 0o755, "100755": 0o755, "4755": 0o755, "0": 0o644, "777": 0o777} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %o, %v; want %o", in, got, err, want)
		}
	}
	for _, in := range []string{"8", "-1", "0x1ff", "rw-r--r--", strings.Repeat("7", 12)} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) succeeded", in)
		}
	}
}

func TestAssemble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st := newService(t)
	bigNew := strings.Repeat("new large file ", 200)       // 3000 bytes: cacheable
	bigCached := strings.Repeat("cached large file ", 200) // in the cache already
	res := cacheFile(t, st, bigCached)
	bits := makeZip(t,
		zipFile{name: "app/", mode: fs.ModeDir | 0o755},
		zipFile{name: "app/server.rb", body: "puts 1", mode: 0o644},
		zipFile{name: "app/run.sh", body: "#!/bin/sh\n", mode: 0o4755}, // setuid is dropped
		zipFile{name: "app/big.txt", body: bigNew},
		zipFile{name: "app/empty", body: ""},
		zipFile{name: "app/stored", body: "not compressed", stored: true},
		zipFile{name: "node_modules/.bin/tool", body: "../tool/cli.js", mode: fs.ModeSymlink | 0o777},
		zipFile{name: "node_modules/tool/cli.js", body: "console.log(1)"},
		zipFile{name: "ünïcode.txt", body: "utf8"},
	)
	rs := []apiblob.Resource{
		{SHA1: res.SHA1, Size: res.Size, Path: "vendor/cached.txt", Mode: "600"},
		{SHA1: res.SHA1, Size: res.Size, Path: "app/again.txt", Mode: "644"},
	}
	info, err := s.Assemble(ctx, "pkg-1", bytes.NewReader(bits), int64(len(bits)), rs)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bucket != apiblob.BucketPackages || info.Key != "pkg-1" || info.Size == 0 {
		t.Errorf("info %+v", info)
	}
	contents, modes, order := readPackage(t, st, "pkg-1")
	want := map[string]string{
		"app/": "", "app/server.rb": "puts 1", "app/run.sh": "#!/bin/sh\n", "app/big.txt": bigNew, "app/empty": "",
		"app/stored": "not compressed", "node_modules/.bin/tool": "../tool/cli.js", "node_modules/tool/cli.js": "console.log(1)",
		"ünïcode.txt": "utf8", "vendor/cached.txt": bigCached, "app/again.txt": bigCached,
	}
	for name, body := range want {
		if got, ok := contents[name]; !ok || got != body {
			t.Errorf("%s: %q (present %v), want %q", name, truncate(got), ok, truncate(body))
		}
	}
	if len(contents) != len(want) {
		t.Errorf("package has %d entries, want %d: %v", len(contents), len(want), order)
	}
	if !slices.IsSorted(order) {
		t.Errorf("entries not sorted: %v", order)
	}
	for name, mode := range map[string]fs.FileMode{
		"app/": fs.ModeDir | 0o755, "app/run.sh": 0o755, "app/server.rb": 0o644, "vendor/cached.txt": 0o600,
		"node_modules/.bin/tool": fs.ModeSymlink | 0o777,
	} {
		if modes[name] != mode {
			t.Errorf("%s: mode %v, want %v", name, modes[name], mode)
		}
	}
	// The new large file is cached now; small ones are not.
	got, err := s.Match(ctx, []apiblob.Resource{
		{SHA1: sum1(bigNew), Size: int64(len(bigNew))},
		{SHA1: sum1("puts 1"), Size: 6},
	})
	if err != nil || len(got) != 1 || got[0].SHA1 != sum1(bigNew) {
		t.Errorf("after assembly Match = %+v, %v; want the new large file only", got, err)
	}
	if _, ok := st.get(apiblob.BucketResources, apiblob.ResourceKey(sum1("puts 1"))); ok {
		t.Error("a file below MinSize was cached")
	}

	// The same input gives the same package.
	info2, err := s.Assemble(ctx, "pkg-2", bytes.NewReader(bits), int64(len(bits)), rs)
	if err != nil {
		t.Fatal(err)
	}
	if info2.SHA256 != info.SHA256 {
		t.Error("assembly is not deterministic")
	}
}

func TestAssembleWithoutBits(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	content := strings.Repeat("x", 5000)
	res := cacheFile(t, st, content)
	res.Path, res.Mode = "only.txt", "644"
	if _, err := s.Assemble(context.Background(), "p", nil, 0, []apiblob.Resource{res}); err != nil {
		t.Fatal(err)
	}
	contents, _, _ := readPackage(t, st, "p")
	if len(contents) != 1 || contents["only.txt"] != content {
		t.Errorf("package %v", contents)
	}
	// Nothing at all is an empty package.
	if _, err := s.Assemble(context.Background(), "empty", nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	if contents, _, _ := readPackage(t, st, "empty"); len(contents) != 0 {
		t.Errorf("empty package has %v", contents)
	}
}

// badCRC returns a zip whose one entry's CRC-32 is wrong.
func badCRC(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "f", Method: zip.Store, CRC32: 12345, CompressedSize64: 5, UncompressedSize64: 5})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	zw.Close()
	return buf.Bytes()
}

// lyingSize returns a zip that declares fewer bytes than it inflates to.
func lyingSize(t *testing.T) []byte {
	body := strings.Repeat("z", 10_000)
	var comp bytes.Buffer
	{
		zw := zip.NewWriter(&comp)
		w, _ := zw.Create("x")
		w.Write([]byte(body))
		zw.Close()
	}
	zr, err := zip.NewReader(bytes.NewReader(comp.Bytes()), int64(comp.Len()))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := zr.File[0].OpenRaw()
	var rawBuf bytes.Buffer
	rawBuf.ReadFrom(raw)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "x", Method: zip.Deflate, CRC32: zr.File[0].CRC32,
		CompressedSize64: uint64(rawBuf.Len()), UncompressedSize64: 10})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(rawBuf.Bytes())
	zw.Close()
	return out.Bytes()
}

func manyEntries(t *testing.T, n int) []byte {
	files := make([]zipFile, n)
	for i := range files {
		files[i] = zipFile{name: fmt.Sprintf("f%d", i)}
	}
	return makeZip(t, files...)
}

func TestAssembleRejects(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("a", 40)
	bomb := strings.Repeat("\x00", 9<<20) // deflates to a few KB, over MaxUncompressed
	tests := []struct {
		name    string
		bits    []byte
		rs      []apiblob.Resource
		wantErr error
		wantMsg string
	}{
		{"not a zip", []byte("PK but not really"), nil, ErrInvalidPackage, "not a zip"},
		{"dot dot", makeZip(t, zipFile{name: "../escape", body: "x"}), nil, ErrInvalidPackage, `".." segment`},
		{"nested dot dot", makeZip(t, zipFile{name: "a/../../escape", body: "x"}), nil, ErrInvalidPackage, `".." segment`},
		{"absolute", makeZip(t, zipFile{name: "/etc/cron.d/x", body: "x"}), nil, ErrInvalidPackage, "absolute"},
		{"backslash", makeZip(t, zipFile{name: `..\..\evil`, body: "x"}), nil, ErrInvalidPackage, "backslash"},
		{"drive letter", makeZip(t, zipFile{name: `C:/evil`, body: "x"}), nil, ErrInvalidPackage, "drive letter"},
		{"dot", makeZip(t, zipFile{name: "./a", body: "x"}), nil, ErrInvalidPackage, `"." segment`},
		{"duplicate", makeZip(t, zipFile{name: "a", body: "1"}, zipFile{name: "a", body: "2"}), nil, ErrInvalidPackage, "duplicate"},
		{"file below file", makeZip(t, zipFile{name: "a", body: "1"}, zipFile{name: "a/b", body: "2"}), nil, ErrInvalidPackage, "below file"},
		{"file below symlink", makeZip(t, zipFile{name: "l", body: "/tmp", mode: fs.ModeSymlink | 0o777}, zipFile{name: "l/x", body: "2"}), nil, ErrInvalidPackage, ""},
		{"absolute symlink", makeZip(t, zipFile{name: "l", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}), nil, ErrInvalidPackage, "absolute path"},
		{"escaping symlink", makeZip(t, zipFile{name: "a/l", body: "../../etc", mode: fs.ModeSymlink | 0o777}), nil, ErrInvalidPackage, "outside the package"},
		{"symlink chain escape", makeZip(t,
			zipFile{name: "a", body: ".", mode: fs.ModeSymlink | 0o777},
			zipFile{name: "b/l", body: "../a/a/../..", mode: fs.ModeSymlink | 0o777},
		), nil, ErrInvalidPackage, "outside the package"},
		{"symlink through dir link", makeZip(t,
			zipFile{name: "x/up", body: "..", mode: fs.ModeSymlink | 0o777},
			zipFile{name: "l", body: "x/up/..", mode: fs.ModeSymlink | 0o777},
		), nil, ErrInvalidPackage, "outside the package"},
		{"symlink loop", makeZip(t,
			zipFile{name: "a", body: "b", mode: fs.ModeSymlink | 0o777},
			zipFile{name: "b", body: "a", mode: fs.ModeSymlink | 0o777},
		), nil, ErrInvalidPackage, "too many levels"},
		{"fifo", makeZip(t, zipFile{name: "p", mode: fs.ModeNamedPipe | 0o644}), nil, ErrInvalidPackage, "only files, directories and symlinks"},
		{"device", makeZip(t, zipFile{name: "d", mode: fs.ModeDevice | 0o644}), nil, ErrInvalidPackage, "only files"},
		{"zip bomb", makeZip(t, zipFile{name: "bomb", body: bomb}), nil, ErrLimit, "uncompressed"},
		{"too many entries", manyEntries(t, 101), nil, ErrLimit, "zip entries"},
		{"entries plus resources", manyEntries(t, 100), []apiblob.Resource{{SHA1: sha, Size: 1, Path: "extra"}}, ErrLimit, "101 entries"},
		{"bad crc", badCRC(t), nil, ErrInvalidPackage, ""},
		{"lying size", lyingSize(t), nil, ErrInvalidPackage, ""},
		{"resource not cached", nil, []apiblob.Resource{{SHA1: sha, Size: 2000, Path: "x"}}, ErrResourceNotCached, sha},
		{"resource clashes with upload", makeZip(t, zipFile{name: "x", body: "1"}), []apiblob.Resource{{SHA1: sha, Size: 2000, Path: "x"}}, ErrInvalidPackage, "duplicate"},
		{"resource below uploaded file", makeZip(t, zipFile{name: "x", body: "1"}), []apiblob.Resource{{SHA1: sha, Size: 2000, Path: "x/y"}}, ErrInvalidPackage, "below file"},
		{"resource traversal", nil, []apiblob.Resource{{SHA1: sha, Size: 2000, Path: "../x"}}, ErrInvalidRequest, ""},
		{"unsupported method", makeZip(t, zipFile{name: "f", body: "", method: 12}), nil, ErrInvalidPackage, "compression method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, st := newService(t)
			var bits *bytes.Reader
			if tt.bits != nil {
				bits = bytes.NewReader(tt.bits)
			}
			var err error
			if bits != nil {
				_, err = s.Assemble(context.Background(), "p", bits, int64(len(tt.bits)), tt.rs)
			} else {
				_, err = s.Assemble(context.Background(), "p", nil, 0, tt.rs)
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Fatalf("Assemble = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if _, ok := st.get(apiblob.BucketPackages, "p"); ok {
				t.Error("a package was stored")
			}
		})
	}
}

func TestAssembleResourceSizeMismatch(t *testing.T) {
	t.Parallel()
	s, st := newService(t)
	res := cacheFile(t, st, strings.Repeat("r", 3000))
	res.Size++
	res.Path = "x"
	if _, err := s.Assemble(context.Background(), "p", nil, 0, []apiblob.Resource{res}); !errors.Is(err, ErrResourceNotCached) {
		t.Fatalf("err = %v", err)
	}
}

func TestAssembleTooLargeOutput(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	cfg := testConfig(t)
	cfg.MaxPackageSize = 4000
	s := New(cfg, st, nil)
	content := strings.Repeat("incompressible? no, but big enough", 1000)
	bits := makeZip(t, zipFile{name: "a", body: content, stored: true})
	_, err := s.Assemble(context.Background(), "p", bytes.NewReader(bits), int64(len(bits)), nil)
	if !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestCheckDirectoryCountsWithoutLoading(t *testing.T) {
	t.Parallel()
	z := manyEntries(t, 500)
	if err := checkDirectory(bytes.NewReader(z), int64(len(z)), 500); err != nil {
		t.Errorf("500 entries with limit 500: %v", err)
	}
	if err := checkDirectory(bytes.NewReader(z), int64(len(z)), 499); !errors.Is(err, ErrLimit) {
		t.Errorf("500 entries with limit 499: %v", err)
	}
	// A zip with a prefix (self-extracting style) has a base offset.
	prefixed := append(bytes.Repeat([]byte{'#'}, 1000), z...)
	if err := checkDirectory(bytes.NewReader(prefixed), int64(len(prefixed)), 499); !errors.Is(err, ErrLimit) {
		t.Errorf("prefixed: %v", err)
	}
	for _, junk := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("PK\x05\x06"), 100)} {
		if err := checkDirectory(bytes.NewReader(junk), int64(len(junk)), 10); !errors.Is(err, ErrInvalidPackage) {
			t.Errorf("junk %q: %v", junk, err)
		}
	}
}

func TestSpool(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	cfg := testConfig(t)
	cfg.MaxPackageSize = 10
	s := New(cfg, st, nil)
	f, n, err := s.Spool(strings.NewReader("0123456789"))
	if err != nil || n != 10 {
		t.Fatalf("Spool = %d, %v", n, err)
	}
	f.Close()
	if _, _, err := s.Spool(strings.NewReader("0123456789A")); !errors.Is(err, storage.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}
