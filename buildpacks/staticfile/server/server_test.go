package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestParseStaticfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Options
		invalid bool
	}{
		{name: "empty", in: "", want: Options{Root: ".", Gzip: true}},
		{name: "all", in: "root: public\ndirectory: visible\npushstate: enabled\nhost_dot_files: true\nforce_https: true\nhttp_strict_transport_security: true\ngzip: off\n",
			want: Options{Root: "public", DirectoryListing: true, PushState: true, HostDotFiles: true, ForceHTTPS: true, HSTS: true}},
		{name: "unknown", in: "ssi: enabled\nroot: dist/\n", want: Options{Root: "dist", Gzip: true, Unknown: []string{"ssi"}}},
		{name: "escaping root", in: "root: ../etc", invalid: true},
		{name: "absolute root", in: "root: /etc", invalid: true},
		{name: "bad switch", in: "pushstate: maybe", invalid: true},
		{name: "list value", in: "directory: [a]", invalid: true},
		{name: "not a mapping", in: "- a", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStaticfile([]byte(tc.in))
			if tc.invalid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseStaticfile(%q) err = %v, want ErrInvalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStaticfile(%q): %v", tc.in, err)
			}
			if got.Root != tc.want.Root || got.DirectoryListing != tc.want.DirectoryListing || got.PushState != tc.want.PushState ||
				got.HostDotFiles != tc.want.HostDotFiles || got.ForceHTTPS != tc.want.ForceHTTPS || got.HSTS != tc.want.HSTS ||
				got.Gzip != tc.want.Gzip || strings.Join(got.Unknown, ",") != strings.Join(tc.want.Unknown, ",") {
				t.Fatalf("ParseStaticfile(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseStaticfile(f *testing.F) {
	f.Add([]byte("root: public\ndirectory: visible\npushstate: enabled\n"))
	f.Add([]byte(""))
	f.Add([]byte("root: ../x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts, err := ParseStaticfile(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if opts.Root == "" || strings.HasPrefix(opts.Root, "/") || opts.Root == ".." || strings.HasPrefix(opts.Root, "../") {
			t.Fatalf("accepted root %q", opts.Root)
		}
	})
}

// serve starts the handler over real HTTP on the test site.
func serve(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	root, err := os.OpenRoot("testdata/site")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	srv := httptest.NewServer(newHandler(root.FS(), opts))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code    int
	body    string
	headers http.Header
}

func get(t *testing.T, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, body: string(body), headers: resp.Header}
}

func TestServer(t *testing.T) {
	t.Parallel()
	plain := serve(t, Options{Root: ".", Gzip: true})
	spa := serve(t, Options{Root: ".", PushState: true, DirectoryListing: true, ForceHTTPS: true, HSTS: true})
	dots := serve(t, Options{Root: ".", HostDotFiles: true})

	tests := []struct {
		name     string
		url      string
		hdr      map[string]string
		code     int
		contains string
		header   [2]string
	}{
		{name: "index", url: plain.URL + "/", code: 200, contains: "<h1>home</h1>"},
		{name: "file", url: plain.URL + "/docs/guide.txt", code: 200, contains: "guide", header: [2]string{"Content-Type", "text/plain; charset=utf-8"}},
		{name: "missing", url: plain.URL + "/nope", code: 404},
		{name: "dir without index", url: plain.URL + "/docs/", code: 403},
		{name: "dir redirect", url: plain.URL + "/docs", code: 301, header: [2]string{"Location", "/docs/"}},
		{name: "dot file hidden", url: plain.URL + "/.env", code: 404},
		{name: "dot dir hidden", url: plain.URL + "/.secret/key", code: 404},
		{name: "traversal", url: plain.URL + "/../server_test.go", code: 404},
		{name: "pushstate route", url: spa.URL + "/users/42", code: 200, contains: "<h1>home</h1>"},
		{name: "pushstate keeps files", url: spa.URL + "/docs/guide.txt", code: 200, contains: "guide"},
		{name: "listing", url: spa.URL + "/docs/", code: 200, contains: `<a href="guide.txt">guide.txt</a>`},
		{name: "listing hides dot files", url: spa.URL + "/", code: 200, contains: "home"},
		{name: "force https", url: spa.URL + "/a?b=c", hdr: map[string]string{"X-Forwarded-Proto": "http"}, code: 301, header: [2]string{"Location", "https://" + strings.TrimPrefix(spa.URL, "http://") + "/a?b=c"}},
		{name: "hsts", url: spa.URL + "/", code: 200, header: [2]string{"Strict-Transport-Security", "max-age=31536000"}},
		{name: "dot files allowed", url: dots.URL + "/.env", code: 200, contains: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, tc.url, tc.hdr)
			if r.code != tc.code || !strings.Contains(r.body, tc.contains) {
				t.Fatalf("GET %s = %d %q, want %d containing %q", tc.url, r.code, r.body, tc.code, tc.contains)
			}
			if tc.header[0] != "" && r.headers.Get(tc.header[0]) != tc.header[1] {
				t.Fatalf("GET %s: %s = %q, want %q", tc.url, tc.header[0], r.headers.Get(tc.header[0]), tc.header[1])
			}
		})
	}
}

func TestServerListingHidesDotFiles(t *testing.T) {
	t.Parallel()
	root, err := os.OpenRoot("testdata/site")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	// Without index.html at the top the root itself is listed.
	srv := httptest.NewServer(newHandler(root.FS(), Options{DirectoryListing: true}))
	defer srv.Close()
	r := get(t, srv.URL+"/assets/", nil)
	if r.code != 200 || !strings.Contains(r.body, "app.css") {
		t.Fatalf("listing /assets/ = %d %q", r.code, r.body)
	}
	var rec = httptest.NewRecorder()
	h := newHandler(root.FS(), Options{DirectoryListing: true})
	h.(*handler).listDir(rec, httptest.NewRequest(http.MethodGet, "/", nil), ".")
	body := rec.Body.String()
	if strings.Contains(body, ".env") || strings.Contains(body, ".secret") || !strings.Contains(body, "docs/") {
		t.Fatalf("root listing shows dot files or misses docs/: %q", body)
	}
}

func TestServerGzip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := strings.Repeat("body { color: red }\n", 100)
	if err := os.WriteFile(dir+"/app.css", []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	var pre bytes.Buffer
	zw := gzip.NewWriter(&pre)
	zw.Write([]byte("precompressed"))
	zw.Close()
	if err := os.WriteFile(dir+"/app.js", []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/app.js.gz", pre.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		file, want string
		gzip       bool
	}{{"app.css", big, true}, {"app.js", "precompressed", true}, {"app.css", big, false}} {
		srv := httptest.NewServer(newHandler(root.FS(), Options{Root: ".", Gzip: tc.gzip}))
		// A transport that does not decompress, to see the raw encoding.
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/"+tc.file, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if tc.gzip {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: Content-Encoding %q", tc.file, resp.Header.Get("Content-Encoding"))
			}
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		} else if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: compressed with gzip off", tc.file)
		}
		got, err := io.ReadAll(body)
		resp.Body.Close()
		srv.Close()
		if err != nil || string(got) != tc.want {
			t.Fatalf("%s: body %q, %v", tc.file, got, err)
		}
	}
}
