package loggregator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
	"github.com/anvilpaas/anvil/loggregator"
)

// env is a running loggregator with its certificates, a token issuer and
// a Cloud Controller stub.
type env struct {
	l     *loggregator.Loggregator
	certs testenv.Certs
	iss   *tokentest.Issuer
	cc    *ccStub
	base  string // http://API
}

type envOptions struct {
	store    loggregator.StoreConfig
	registry *prometheus.Registry
	noCC     bool
	config   func(*loggregator.Config)
}

func start(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{certs: testenv.TLSCerts(t, "loggregator"), iss: tokentest.New(t), cc: newCCStub(t)}
	cfg := loggregator.Config{
		Ingress: rpc.ServerConfig{
			Listen: "127.0.0.1:0", CertFile: e.certs.CertFile, KeyFile: e.certs.KeyFile, CAFile: e.certs.CAFile,
			ShutdownTimeout: time.Second,
		},
		API:      loggregator.APIConfig{Listen: "127.0.0.1:0", ShutdownTimeout: time.Second},
		Verifier: e.iss.Config(),
		Store:    o.store,
	}
	cfg.Ops.Listen = "127.0.0.1:0"
	if !o.noCC {
		cfg.CloudController.URL = e.cc.srv.URL
	}
	if o.config != nil {
		o.config(&cfg)
	}
	l, err := loggregator.New(cfg, loggregator.Deps{Logger: testenv.Logger(t), Keys: e.iss.Keys(t), Registry: o.registry})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, l)
	e.l = l
	e.base = "http://" + l.APIAddr()
	return e
}

// emitter returns a running emitter sending to e's ingress.
func (e *env) emitter(t testing.TB, cfg logemitter.Config) *logemitter.Emitter {
	t.Helper()
	cfg.Address = e.l.IngressAddr()
	cfg.CertFile, cfg.KeyFile, cfg.CAFile = e.certs.CertFile, e.certs.KeyFile, e.certs.CAFile
	em, err := logemitter.New(cfg, logemitter.Deps{Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emitter Run: %v", err)
		}
	})
	return em
}

// get does an authenticated GET and returns status and body.
func (e *env) get(t testing.TB, token, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adminToken has doppler.firehose.
func (e *env) adminToken(t testing.TB) string {
	return e.iss.UserToken(t, "admin-id", "admin", "doppler.firehose", "openid")
}

// ccStub answers GET /v3/apps/{guid}: 200 when the token's user may see
// the app, else 404. status, when set, overrides every answer.
type ccStub struct {
	srv    *httptest.Server
	mu     sync.Mutex
	grants map[string]map[string]bool // token → app guids
	calls  atomic.Int64
	status atomic.Int64
}

func newCCStub(t testing.TB) *ccStub {
	c := &ccStub{grants: map[string]map[string]bool{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		if s := c.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		guid, ok := strings.CutPrefix(r.URL.Path, "/v3/apps/")
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		c.mu.Lock()
		allowed := ok && c.grants[token][guid]
		c.mu.Unlock()
		if !allowed {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": 10010, "title": "CF-ResourceNotFound"}}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"guid": guid})
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *ccStub) grant(token string, guids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.grants[token] == nil {
		c.grants[token] = map[string]bool{}
	}
	for _, g := range guids {
		c.grants[token][g] = true
	}
}

// count reads how many envelopes of source the store answers with (admin).
func (e *env) waitCount(t testing.TB, token, source string, want int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		code, body := e.get(t, token, fmt.Sprintf("/api/v1/read/%s?start_time=-1&limit=1000", source))
		if code != 200 {
			return fmt.Errorf("status %d: %s", code, body)
		}
		var r struct {
			Envelopes struct {
				Batch []json.RawMessage `json:"batch"`
			} `json:"envelopes"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return err
		}
		if len(r.Envelopes.Batch) != want {
			return fmt.Errorf("have %d envelopes, want %d", len(r.Envelopes.Batch), want)
		}
		return nil
	})
}
