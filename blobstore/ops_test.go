package blobstore_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestReadyzAndMetrics(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *blobstore.Config) { c.StatsInterval = 50 * time.Millisecond })
	ops := "http://" + f.b.OpsAddr()
	if r := do(t, nil, "GET", ops+"/readyz", nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), "[+]storage ok") || !strings.Contains(string(r.Body), "[+]api ok") {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
	f.put(t, apiblob.BucketPackages, "p", []byte("12345"))
	f.get(t, apiblob.BucketPackages, "p")
	do(t, nil, "GET", f.objectURL(apiblob.BucketPackages, "missing"), nil, header{"secret": ""})
	testenv.Eventually(t, 5*time.Second, func() error {
		r := do(t, nil, "GET", ops+"/metrics", nil, nil)
		for _, want := range []string{
			`blobstore_received_bytes_total{bucket="packages"} 5`,
			`blobstore_sent_bytes_total{bucket="packages"} 5`,
			`blobstore_requests_total{code="201",op="put"} 1`,
			`blobstore_requests_total{code="404",op="get"} 1`,
			`blobstore_errors_total{error="not_found",op="get"} 1`,
			`blobstore_objects{bucket="packages"} 1`,
			`blobstore_stored_bytes{bucket="packages"} 5`,
			`blobstore_disk_free_bytes`,
			`blobstore_request_duration_seconds_bucket`,
		} {
			if !strings.Contains(string(r.Body), want) {
				return &missing{want}
			}
		}
		return nil
	})
}

type missing struct{ s string }

func (m *missing) Error() string { return "metrics lack " + m.s }

func TestShutdownNotReady(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	if err := f.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", f.URL+"/v1/copy", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Error("API still answers after Run returned")
	}
	// The directory is free again.
	startWith(t, f.cfg)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() blobstore.Config { return baseConfig("/var/vcap/store/blobstore") }
	tests := []struct {
		name   string
		mutate func(*blobstore.Config)
		want   []string
	}{
		{"valid", func(*blobstore.Config) {}, nil},
		{"no dir", func(c *blobstore.Config) { c.Storage.Dir = "" }, []string{"storage.dir is required"}},
		{"s3 not yet", func(c *blobstore.Config) { c.Storage.Backend = "s3" }, []string{`storage.backend "s3" is unknown`}},
		{"no internal auth", func(c *blobstore.Config) { c.Auth.SharedSecrets = nil }, []string{"internal callers need a way in"}},
		{"client names without CA", func(c *blobstore.Config) { c.Auth.ClientNames = []string{"cloud_controller"} }, []string{"needs tls.ca_file"}},
		{"short secret", func(c *blobstore.Config) { c.Auth.SharedSecrets = []string{"short"} }, []string{"shorter than 16"}},
		{"bad key id", func(c *blobstore.Config) { c.Auth.SigningKeys[0].ID = "a b" }, []string{"signing_keys[0]"}},
		{"duplicate key id", func(c *blobstore.Config) { c.Auth.SigningKeys[1].ID = c.Auth.SigningKeys[0].ID }, []string{"duplicate id"}},
		{"cert without key", func(c *blobstore.Config) { c.TLS.CertFile = "/x.crt" }, []string{"go together"}},
		{"cache range", func(c *blobstore.Config) { c.ResourceCache.MinSize, c.ResourceCache.MaxSize = 10, 5 }, []string{"resource_cache"}},
		{"bad listen", func(c *blobstore.Config) { c.Listen = "nope" }, []string{"listen"}},
		{"all at once", func(c *blobstore.Config) { c.Storage.Dir = ""; c.Auth.SharedSecrets = nil; c.Listen = "x" }, []string{"storage.dir", "way in", "listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.mutate(&cfg)
			cfg.Defaults()
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
