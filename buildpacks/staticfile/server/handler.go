package main

import (
	"compress/gzip"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// serverDir is where the buildpack installs the server in the app; it is
// never served.
const serverDir = ".staticfile"

// handler serves fsys (the root directory) under opts.
type handler struct {
	opts Options
	fsys fs.FS
}

func newHandler(fsys fs.FS, opts Options) http.Handler {
	return &handler{opts: opts, fsys: fsys}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.ForceHTTPS && r.Header.Get("X-Forwarded-Proto") == "http" {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
		return
	}
	if h.opts.HSTS {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	upath := path.Clean("/" + r.URL.Path)
	name := strings.TrimPrefix(upath, "/")
	if name == "" {
		name = "."
	}
	if h.hidden(name) {
		http.NotFound(w, r)
		return
	}
	fi, err := fs.Stat(h.fsys, name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && h.opts.PushState:
		name = "index.html"
		if _, err := fs.Stat(h.fsys, name); err != nil {
			http.NotFound(w, r)
			return
		}
		h.serveFile(w, r, name)
		return
	case err != nil:
		http.NotFound(w, r)
		return
	case fi.IsDir():
		if !strings.HasSuffix(r.URL.Path, "/") {
			target := path.Base(upath) + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		index := path.Join(name, "index.html")
		if _, err := fs.Stat(h.fsys, index); err == nil {
			h.serveFile(w, r, index)
			return
		}
		if !h.opts.DirectoryListing {
			http.Error(w, "403 forbidden", http.StatusForbidden)
			return
		}
		h.listDir(w, r, name)
		return
	}
	h.serveFile(w, r, name)
}

// listDir writes an HTML listing of a directory, leaving out what hidden
// hides.
func (h *handler) listDir(w http.ResponseWriter, r *http.Request, name string) {
	entries, err := fs.ReadDir(h.fsys, name)
	if err != nil {
		http.Error(w, "500 cannot read directory", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "<!doctype html>\n<title>Index of %s</title>\n<h1>Index of %s</h1>\n<pre>\n",
		html.EscapeString(r.URL.Path), html.EscapeString(r.URL.Path))
	for _, e := range entries {
		if h.hidden(path.Join(name, e.Name())) {
			continue
		}
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		u := url.URL{Path: n}
		fmt.Fprintf(w, "<a href=\"%s\">%s</a>\n", html.EscapeString(u.String()), html.EscapeString(n))
	}
	fmt.Fprintln(w, "</pre>")
}

// hidden reports whether a path must not be served: the server's own
// directory always, and dot files unless the Staticfile allows them.
func (h *handler) hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == serverDir {
			return true
		}
		if strings.HasPrefix(part, ".") && part != "." && !h.opts.HostDotFiles {
			return true
		}
	}
	return false
}

// serveFile serves one regular file, compressed when the client accepts
// gzip: a precompressed name.gz if there is one, else on the fly for text.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, err := h.fsys.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	content := f.(io.ReadSeeker)
	if h.opts.Gzip && acceptsGzip(r) {
		w.Header().Add("Vary", "Accept-Encoding")
		if gz, err := h.fsys.Open(name + ".gz"); err == nil {
			defer gz.Close()
			if gfi, err := gz.Stat(); err == nil && gfi.Mode().IsRegular() {
				w.Header().Set("Content-Encoding", "gzip")
				http.ServeContent(w, r, name, gfi.ModTime(), gz.(io.ReadSeeker))
				return
			}
		}
		if compressible(ctype) && r.Header.Get("Range") == "" && fi.Size() > 256 {
			w.Header().Set("Content-Encoding", "gzip")
			gw := &gzipWriter{ResponseWriter: w}
			defer gw.close()
			http.ServeContent(gw, r, name, fi.ModTime(), content)
			return
		}
	}
	http.ServeContent(w, r, name, fi.ModTime(), content)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(enc, "gzip") {
			return true
		}
	}
	return false
}

func compressible(ctype string) bool {
	mt, _, _ := mime.ParseMediaType(ctype)
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/javascript", mt == "application/json", mt == "image/svg+xml", mt == "application/xml":
		return true
	}
	return false
}

// gzipWriter compresses a response body; ServeContent's Content-Length is
// for the uncompressed body, so it is dropped.
type gzipWriter struct {
	http.ResponseWriter
	gz          *gzip.Writer
	wroteHeader bool
	plain       bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.wroteHeader {
		return
	}
	g.wroteHeader = true
	if code != http.StatusOK {
		// Errors and 304s are sent as they are.
		g.plain = true
		g.Header().Del("Content-Encoding")
	} else {
		g.Header().Del("Content-Length")
		g.gz = gzip.NewWriter(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	if g.plain || g.gz == nil {
		return g.ResponseWriter.Write(p)
	}
	return g.gz.Write(p)
}

func (g *gzipWriter) close() {
	if g.gz != nil {
		_ = g.gz.Close()
	}
}

// logRequests writes one access-log line per request to w, which goes to
// the app's log stream.
func logRequests(w io.Writer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		fmt.Fprintf(w, "%s %q %d %d %q\n", r.RemoteAddr, r.Method+" "+r.URL.RequestURI(), sw.code, sw.n, r.UserAgent())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	s.n += int64(n)
	return n, err
}
