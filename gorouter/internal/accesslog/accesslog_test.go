package accesslog_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/gorouter/internal/accesslog"
	"github.com/anvilpaas/anvil/gorouter/internal/proxy"
	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

func record(r *http.Request) *proxy.Record {
	return &proxy.Record{
		Start:             time.Date(2026, 11, 29, 15, 4, 5, 123456789, time.UTC),
		Request:           r,
		RequestID:         "0f0e0d0c-0000-4000-8000-000000000001",
		Status:            200,
		BodyBytesReceived: 5,
		BodyBytesSent:     13,
		Endpoint: &registry.Endpoint{
			Addr: "10.0.0.5:61001", AppID: "11111111-2222-3333-4444-555555555555",
			PrivateInstanceID: "inst-1", PrivateInstanceIndex: "2",
		},
		Duration:    1500 * time.Microsecond,
		BackendTime: 1200 * time.Microsecond,
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(r *http.Request, rec *proxy.Record)
		want  string
	}{{
		name: "proxied",
		setup: func(r *http.Request, rec *proxy.Record) {
			r.Header.Set("User-Agent", "curl/8.0")
			r.Header.Set("Referer", "http://ref.test/")
		},
		want: `app.test - [2026-11-29T15:04:05.123456789Z] "POST /p?q=1 HTTP/1.1" 200 5 13 "http://ref.test/" "curl/8.0" ` +
			`"192.0.2.1:1234" "10.0.0.5:61001" x_forwarded_for:"192.0.2.1" x_forwarded_proto:"http" ` +
			`vcap_request_id:"0f0e0d0c-0000-4000-8000-000000000001" response_time:0.001500 gorouter_time:0.000300 ` +
			`app_id:"11111111-2222-3333-4444-555555555555" app_index:"2" instance_id:"inst-1" x_cf_routererror:"-"`,
	}, {
		name: "router error, forwarded chain",
		setup: func(r *http.Request, rec *proxy.Record) {
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			r.Header.Set("X-Forwarded-Proto", "https")
			rec.Endpoint, rec.Status, rec.RouterError, rec.BackendTime = nil, 404, "unknown_route", 0
			rec.BodyBytesReceived, rec.BodyBytesSent = 0, 0
		},
		want: `app.test - [2026-11-29T15:04:05.123456789Z] "POST /p?q=1 HTTP/1.1" 404 0 0 "-" "-" ` +
			`"192.0.2.1:1234" "-" x_forwarded_for:"203.0.113.9, 192.0.2.1" x_forwarded_proto:"https" ` +
			`vcap_request_id:"0f0e0d0c-0000-4000-8000-000000000001" response_time:0.001500 gorouter_time:0.001500 ` +
			`app_id:"-" app_index:"-" instance_id:"-" x_cf_routererror:"unknown_route"`,
	}, {
		name: "hostile values are escaped",
		setup: func(r *http.Request, rec *proxy.Record) {
			r.Header.Set("User-Agent", "a\"b\\c\nd\x00é")
			r.Host = "evil host\n"
		},
		want: `evil\x20host\x0a - [2026-11-29T15:04:05.123456789Z] "POST /p?q=1 HTTP/1.1" 200 5 13 "-" "a\"b\\c\x0ad\x00é" `,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "http://app.test/p?q=1", strings.NewReader("hello"))
			r.RemoteAddr = "192.0.2.1:1234"
			r.RequestURI = "/p?q=1" // as the server sets it
			rec := record(r)
			tt.setup(r, rec)
			got := string(accesslog.Append(nil, rec))
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got\n%s\nwant (prefix)\n%s", got, tt.want)
			}
		})
	}
}

// FuzzAppend checks that whatever a client sends, its line stays one line
// with every quoted field closed.
func FuzzAppend(f *testing.F) {
	f.Add("app.test", "/p", "curl", "ref", "203.0.113.1")
	f.Add("a\nb", "/\"x", "\\", "\x00", "\"")
	f.Fuzz(func(t *testing.T, host, uri, ua, referer, xff string) {
		r := httptest.NewRequest("GET", "http://x.test/", nil)
		r.Host, r.RequestURI = host, uri
		r.Header.Set("User-Agent", ua)
		r.Header.Set("Referer", referer)
		r.Header.Set("X-Forwarded-For", xff)
		line := accesslog.Append(nil, record(r))
		if bytes.ContainsAny(line, "\n\r") {
			t.Fatalf("line break in %q", line)
		}
		if !bytes.HasSuffix(line, []byte(` x_cf_routererror:"-"`)) {
			t.Fatalf("line does not end with its last field: %q", line)
		}
		if !quotesBalanced(line) {
			t.Fatalf("a quoted field is not closed in %q", line)
		}
	})
}

// quotesBalanced reports whether every quoted field of line is closed,
// reading a backslash inside quotes as escaping the next byte.
func quotesBalanced(line []byte) bool {
	in := false
	for i := 0; i < len(line); i++ {
		switch {
		case in && line[i] == '\\':
			i++
		case line[i] == '"':
			in = !in
		}
	}
	return !in
}

func TestWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "access.log")
	w, err := accesslog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	w.WriteLine([]byte("one"))
	w.WriteLine([]byte("two"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == "one\ntwo\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file holds %q, want the two lines flushed", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.WriteLine([]byte("three"))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.WriteLine([]byte("after close"))
	if b, _ := os.ReadFile(path); string(b) != "one\ntwo\nthree\n" {
		t.Errorf("after close the file holds %q", b)
	}
}

func BenchmarkAppend(b *testing.B) {
	r := httptest.NewRequest("GET", "http://app.test/some/path?x=1", nil)
	r.Header.Set("User-Agent", "wrk")
	rec := record(r)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = accesslog.Append(buf[:0], rec)
	}
}
