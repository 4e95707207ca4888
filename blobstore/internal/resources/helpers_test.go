package resources

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"io/fs"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func testConfig(t testing.TB) Config {
	return Config{
		MinSize: 1024, MaxSize: 1 << 20,
		MaxEntries: 100, MaxUncompressed: 8 << 20, MaxPackageSize: 8 << 20,
		MaxConcurrent: 2, ScratchDir: t.TempDir(),
	}
}

func newService(t testing.TB) (*Service, *memStore) {
	st := newMemStore()
	return New(testConfig(t), st, testenv.Logger(t)), st
}

// zipFile is one entry of a test zip.
type zipFile struct {
	name   string
	body   string
	mode   fs.FileMode
	stored bool   // zip.Store instead of zip.Deflate
	method uint16 // raw entry with this method and no data, when not 0
}

func makeZip(t testing.TB, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		if f.method != 0 {
			if _, err := zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: f.method}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		if f.stored {
			h.Method = zip.Store
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum1(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// cacheFile puts content into the cache directly.
func cacheFile(t testing.TB, st *memStore, content string) apiblob.Resource {
	t.Helper()
	s := sum1(content)
	if _, err := st.Put(context.Background(), apiblob.BucketResources, apiblob.ResourceKey(s), bytes.NewReader([]byte(content)), putAny()); err != nil {
		t.Fatal(err)
	}
	return apiblob.Resource{SHA1: s, Size: int64(len(content))}
}

// readPackage returns the entries of a stored package: path → content,
// and path → mode.
func readPackage(t testing.TB, st *memStore, key string) (map[string]string, map[string]fs.FileMode, []string) {
	t.Helper()
	data, ok := st.get(apiblob.BucketPackages, key)
	if !ok {
		t.Fatalf("package %s not stored", key)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("package is not a zip: %v", err)
	}
	contents := map[string]string{}
	modes := map[string]fs.FileMode{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		contents[f.Name] = string(b)
		modes[f.Name] = f.Mode()
		order = append(order, f.Name)
	}
	return contents, modes, order
}

func putAny() storage.PutOptions { return storage.PutOptions{Size: -1, MaxSize: -1} }
