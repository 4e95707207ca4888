package blobstore_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"strings"
	"testing"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
)

type appFile struct {
	path string
	body string
	mode fs.FileMode
}

func zipOf(t *testing.T, files []appFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.path, Method: zip.Deflate}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func resourceOf(f appFile) apiblob.Resource {
	s := sha1.Sum([]byte(f.body))
	return apiblob.Resource{SHA1: hexOf(s[:]), Size: int64(len(f.body)), Path: f.path, Mode: "644"}
}

// push does what cf push and the Cloud Controller do: match every
// non-empty file, upload a zip of the unmatched ones with the matched list,
// and returns the package's files.
func push(t *testing.T, f *fixture, key string, files []appFile) (matched int, pkg map[string]string) {
	t.Helper()
	ctx := context.Background()
	var query []apiblob.Resource
	for _, af := range files {
		if af.body != "" {
			query = append(query, resourceOf(af))
		}
	}
	hits, err := f.client.Match(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	hit := map[string]bool{}
	for _, h := range hits {
		hit[h.Path] = true
	}
	var rest []appFile
	for _, af := range files {
		if !hit[af.path] {
			rest = append(rest, af)
		}
	}
	var bits io.Reader
	if len(rest) > 0 {
		bits = bytes.NewReader(zipOf(t, rest))
	}
	info, err := f.client.Assemble(ctx, key, hits, bits)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	data := f.get(t, apiblob.BucketPackages, key)
	if s := sha1.Sum(data); info.SHA1 != hexOf(s[:]) || info.Size != int64(len(data)) {
		t.Errorf("assembly info %+v does not describe the stored package", info)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("package is not a zip: %v", err)
	}
	pkg = map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		pkg[zf.Name] = string(b)
	}
	return len(hits), pkg
}

func TestResourceMatchingAndAssembly(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *blobstore.Config) { c.ResourceCache.MinSize = 1024 })
	big := strings.Repeat("vendored library ", 500)
	bigger := strings.Repeat("asset ", 1000)
	app := []appFile{
		{path: "app/", mode: fs.ModeDir | 0o755},
		{path: "app/main.rb", body: "puts :hi", mode: 0o644},
		{path: "app/vendor/lib.rb", body: big, mode: 0o644},
		{path: "app/public/site.css", body: bigger, mode: 0o644},
		{path: "app/.keep", body: "", mode: 0o644},
	}
	want := map[string]string{"app/": "", "app/main.rb": "puts :hi", "app/vendor/lib.rb": big, "app/public/site.css": bigger, "app/.keep": ""}

	// First push: nothing cached, everything uploaded.
	matched, pkg := push(t, f, "pkg-1", app)
	if matched != 0 || !mapsEqual(pkg, want) {
		t.Fatalf("first push: %d matched, package %v", matched, keys(pkg))
	}
	// Second push: the two large files come from the cache.
	app[1].body = "puts :changed"
	want["app/main.rb"] = "puts :changed"
	matched, pkg = push(t, f, "pkg-2", app)
	if matched != 2 || !mapsEqual(pkg, want) {
		t.Fatalf("second push: %d matched, want 2; package %v", matched, keys(pkg))
	}
	// Everything matched: no bits part at all.
	onlyBig := []appFile{app[2], app[3]}
	matched, pkg = push(t, f, "pkg-3", onlyBig)
	if matched != 2 || len(pkg) != 2 || pkg["app/vendor/lib.rb"] != big {
		t.Fatalf("all matched: %d, %v", matched, keys(pkg))
	}

	// Bad assembly requests.
	ctx := context.Background()
	_, err := f.client.Assemble(ctx, "bad", []apiblob.Resource{{SHA1: strings.Repeat("f", 40), Size: 5000, Path: "x"}}, nil)
	if !errors.Is(err, blobclient.ErrResourceNotCached) {
		t.Errorf("uncached resource: %v", err)
	}
	evil := zipOf(t, []appFile{{path: "../../etc/cron.d/x", body: "* * * * * root sh", mode: 0o644}})
	_, err = f.client.Assemble(ctx, "bad", nil, bytes.NewReader(evil))
	var be *blobclient.Error
	if !errors.As(err, &be) || be.Status != 400 || be.Code != apiblob.CodeInvalidPackage {
		t.Errorf("traversal zip: %v", err)
	}
	_, err = f.client.Assemble(ctx, "bad", nil, strings.NewReader("not a zip"))
	if !errors.As(err, &be) || be.Code != apiblob.CodeInvalidPackage {
		t.Errorf("not a zip: %v", err)
	}
	if _, err := f.client.Head(ctx, apiblob.BucketPackages, "bad"); !errors.Is(err, blobclient.ErrNotFound) {
		t.Errorf("failed assembly stored a package: %v", err)
	}
	// Parts out of order.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile(apiblob.PartBits, "package.zip")
	w.Write(zipOf(t, app[1:2]))
	mw.Close()
	do(t, nil, "POST", f.URL+apiblob.AssemblePath("bad"), &body, header{"secret": "", "Content-Type": mw.FormDataContentType()}).
		wantError(t, 400, apiblob.CodeBadRequest, `"resources"`)
	do(t, nil, "POST", f.URL+apiblob.AssemblePath("bad"), strings.NewReader("{}"), header{"secret": "", "Content-Type": "application/json"}).
		wantError(t, 400, apiblob.CodeBadRequest, "multipart")
	if files := tempFiles(t, f.cfg.Storage.Dir); len(files) != 0 {
		t.Errorf("scratch files left: %v", files)
	}
}

func TestMatchBounds(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	u := f.URL + apiblob.MatchPath
	if r := do(t, nil, "POST", u, strings.NewReader(`{"resources":[]}`), header{"secret": ""}); r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"resources":[]}` {
		t.Errorf("empty match: %d %s", r.Status, r.Body)
	}
	entry := `{"sha1":"` + strings.Repeat("a", 40) + `","size":70000},`
	tooMany := `{"resources":[` + strings.Repeat(entry, apiblob.MaxMatchResources) + entry[:len(entry)-1] + `]}`
	do(t, nil, "POST", u, strings.NewReader(tooMany), header{"secret": ""}).wantError(t, 413, apiblob.CodeTooLarge, "at most 5000")
	huge := `{"resources":[],"x":"` + strings.Repeat("x", apiblob.MaxMatchBodyBytes) + `"}`
	do(t, nil, "POST", u, strings.NewReader(huge), header{"secret": ""}).wantError(t, 413, apiblob.CodeTooLarge)
	do(t, nil, "POST", u, struct{ io.Reader }{strings.NewReader(huge)}, header{"secret": ""}).wantError(t, 413, apiblob.CodeTooLarge)
	do(t, nil, "POST", u, strings.NewReader(`{"resources":[{"sha1":"../../x","size":1}]}`), header{"secret": ""}).wantError(t, 400, apiblob.CodeBadRequest, "sha1")
	do(t, nil, "POST", u, strings.NewReader(`{`), header{"secret": ""}).wantError(t, 400, apiblob.CodeBadRequest)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
