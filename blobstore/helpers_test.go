package blobstore_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/blobclient"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		runCrashHelper(dir)
		return
	}
	os.Exit(m.Run())
}

const sharedSecret = "test-shared-secret-0123456789"

var (
	signKey = apiblob.Key{ID: "key-1", Secret: []byte("signing-secret-one-0123456789")}
	oldKey  = apiblob.Key{ID: "key-0", Secret: []byte("signing-secret-old-0123456789")}
)

// fixture is a running blobstore.
type fixture struct {
	b      *blobstore.Blobstore
	cfg    blobstore.Config
	URL    string
	client *blobclient.Client
	stop   func() error
}

// baseConfig is a blobstore on dir with a shared secret and two signing
// keys.
func baseConfig(dir string) blobstore.Config {
	var cfg blobstore.Config
	cfg.Listen = "127.0.0.1:0"
	cfg.Ops.Listen = "127.0.0.1:0"
	cfg.Storage.Dir = dir
	cfg.Auth.SharedSecrets = []string{sharedSecret}
	cfg.Auth.SigningKeys = []blobstore.SigningKey{
		{ID: signKey.ID, Secret: string(signKey.Secret)},
		{ID: oldKey.ID, Secret: string(oldKey.Secret)},
	}
	cfg.Auth.MaxSignedURLLifetime = time.Hour
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.StatsInterval = -1
	return cfg
}

func start(t testing.TB, mutate func(*blobstore.Config)) *fixture {
	t.Helper()
	cfg := baseConfig(t.TempDir())
	if mutate != nil {
		mutate(&cfg)
	}
	return startWith(t, cfg)
}

func startWith(t testing.TB, cfg blobstore.Config) *fixture {
	t.Helper()
	b, err := blobstore.New(cfg, testenv.Logger(t))
	if err != nil {
		t.Fatalf("blobstore.New: %v", err)
	}
	stop := testenv.Start(t, b)
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	f := &fixture{b: b, cfg: cfg, URL: scheme + "://" + b.Addr(), stop: stop}
	f.client, err = blobclient.New(blobclient.Config{URL: f.URL, SharedSecret: sharedSecret, SigningKey: signKey})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// response is a read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) apiError(t testing.TB) apiblob.Error {
	t.Helper()
	var e apiblob.Error
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Code == "" || e.Description == "" {
		t.Fatalf("error body is not {error, description} JSON: %q (%v)", r.Body, err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return e
}

// wantError checks an error response's status and code, and that the
// description holds each of contains.
func (r response) wantError(t testing.TB, status int, code string, contains ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	e := r.apiError(t)
	if e.Code != code {
		t.Errorf("error code %q, want %q (%s)", e.Code, code, e.Description)
	}
	for _, c := range contains {
		if !strings.Contains(e.Description, c) {
			t.Errorf("description %q lacks %q", e.Description, c)
		}
	}
}

type header map[string]string

// do sends a request with the given headers ("secret" adds the shared
// secret) and reads the whole response.
func do(t testing.TB, client *http.Client, method, url string, body io.Reader, h header) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if k == "secret" {
			req.Header.Set(apiblob.HeaderSecret, sharedSecret)
			continue
		}
		req.Header.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (f *fixture) objectURL(bucket, key string) string {
	return f.URL + apiblob.ObjectPath(bucket, key)
}

// put uploads data with the shared secret and fails the test on error.
func (f *fixture) put(t testing.TB, bucket, key string, data []byte) apiblob.ObjectInfo {
	t.Helper()
	info, err := f.client.Put(context.Background(), bucket, key, bytes.NewReader(data), blobclient.PutOptions{})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info
}

func (f *fixture) get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	o, err := f.client.Get(context.Background(), bucket, key, "")
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tempFiles lists the storage's temp dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir + "/tmp")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func tlsClient(cfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }
