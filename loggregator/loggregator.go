package loggregator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"github.com/prometheus/client_golang/prometheus"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/runner"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/loggregator/internal/ingress"
	"github.com/anvilpaas/anvil/loggregator/internal/store"
	"github.com/anvilpaas/anvil/loggregator/internal/web"
)

// Deps are what the daemon is given besides its configuration.
type Deps struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the metrics served on the ops listener's /metrics;
	// nil means a fresh ops.NewRegistry().
	Registry *prometheus.Registry
	// Keys, when set, are the UAA token keys (tests); nil fetches them
	// from verifier.uaa_url.
	Keys tokenverify.KeySource
}

// Loggregator is the daemon: the v2 ingress, the log-cache store and its
// HTTP API.
type Loggregator struct {
	cfg     Config
	logger  *slog.Logger
	store   *store.Store
	rpc     *rpc.Server
	api     *httpserver.Server
	ops     *ops.Server
	ready   chan struct{}
	started atomic.Bool
}

// New checks cfg, loads the certificates and registers the metrics. It
// binds nothing: Run does.
func New(cfg Config, deps Deps) (*Loggregator, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loggregator: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registry
	if reg == nil {
		reg = ops.NewRegistry()
	}
	l := &Loggregator{cfg: cfg, logger: logger, ready: make(chan struct{})}
	l.store = store.New(store.Config{
		MaxPerSource: cfg.Store.MaxPerSource,
		MaxEnvelopes: cfg.Store.MaxEnvelopes,
		MaxBytes:     cfg.Store.MaxBytes,
	})
	if err := registerStoreMetrics(reg, l.store); err != nil {
		return nil, fmt.Errorf("loggregator: register metrics: %w", err)
	}

	im, err := ingress.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("loggregator: register metrics: %w", err)
	}
	if l.rpc, err = rpc.NewServer(cfg.Ingress, logger, reg); err != nil {
		return nil, fmt.Errorf("loggregator: ingress: %w", err)
	}
	loggregator_v2.RegisterIngressServer(l.rpc.GRPC(), ingress.New(l.store, im))
	l.rpc.Health().SetServingStatus(loggregator_v2.Ingress_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	httpClient, err := outboundClient(cfg.TrustedCAFile, cfg.CloudController.Timeout)
	if err != nil {
		return nil, fmt.Errorf("loggregator: %w", err)
	}
	vcfg := cfg.Verifier
	if vcfg.HTTPClient == nil {
		vcfg.HTTPClient = httpClient
	}
	keys := deps.Keys
	if keys == nil {
		keys = tokenverify.HTTPKeys(vcfg.UAAURL+"/token_keys", vcfg.HTTPClient)
	}
	verifier, err := tokenverify.New(vcfg, keys, logger)
	if err != nil {
		return nil, fmt.Errorf("loggregator: %w", err)
	}
	readDur := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "loggregator_read_duration_seconds",
		Help:    "Duration of log-cache reads that were served.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25},
	})
	if err := reg.Register(readDur); err != nil {
		return nil, fmt.Errorf("loggregator: register metrics: %w", err)
	}
	handler := web.New(web.AuthConfig{
		CCURL:      cfg.CloudController.URL,
		HTTPClient: httpClient,
		CacheTTL:   cfg.CloudController.AuthCacheTTL,
		CacheSize:  cfg.CloudController.AuthCacheSize,
	}, web.Deps{
		Store:       l.store,
		Verifier:    verifier,
		Logger:      logger,
		Started:     time.Now(),
		ObserveRead: func(d time.Duration) { readDur.Observe(d.Seconds()) },
	})
	var apiTLS *tls.Config
	if cfg.API.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.API.CertFile, cfg.API.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loggregator: api certificate: %w", err)
		}
		apiTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l.api = httpserver.New("log-cache", httpserver.Config{
		Listen: cfg.API.Listen, TLS: apiTLS, ShutdownTimeout: cfg.API.ShutdownTimeout,
	}, handler, logger)

	l.ops = ops.New(cfg.Ops, logger, reg)
	l.ops.AddCheck("ingress", ops.ReadyCheck(l.rpc.Ready()))
	l.ops.AddCheck("api", ops.ReadyCheck(l.api.Ready()))
	return l, nil
}

// outboundClient is the HTTP client for UAA and Cloud Controller.
func outboundClient(caFile string, timeout time.Duration) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: timeout}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("trusted_ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("trusted_ca_file %s: no PEM certificates", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: timeout, Transport: tr}, nil
}

func registerStoreMetrics(reg prometheus.Registerer, st *store.Store) error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggregator_store_envelopes", Help: "Envelopes held in the log-cache store.",
		}, func() float64 { return float64(st.Stats().Envelopes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggregator_store_bytes", Help: "Estimated memory of the envelopes held.",
		}, func() float64 { return float64(st.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loggregator_store_sources", Help: "Source ids held.",
		}, func() float64 { return float64(st.Stats().Sources) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loggregator_store_evicted_envelopes_total",
			Help: "Envelopes evicted: a source's ring was full, or the global count or memory cap was reached.",
		}, func() float64 { return float64(st.Stats().Evicted) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Ready is closed once the ingress, API and ops listeners are bound.
func (l *Loggregator) Ready() <-chan struct{} { return l.ready }

// IngressAddr returns the gRPC ingress's bound address ("" before Ready).
func (l *Loggregator) IngressAddr() string { return addrString(l.rpc.Addr()) }

// APIAddr returns the log-cache API's bound address ("" before Ready).
func (l *Loggregator) APIAddr() string { return addrString(l.api.Addr()) }

// OpsAddr returns the ops listener's bound address ("" before Ready).
func (l *Loggregator) OpsAddr() string { return addrString(l.ops.Addr()) }

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Run serves until ctx is cancelled, then stops the listeners gracefully
// and returns nil. The store is in memory: what it held is gone. Run may
// be called once.
func (l *Loggregator) Run(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		return errors.New("loggregator: run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for _, ch := range []<-chan struct{}{l.rpc.Ready(), l.api.Ready(), l.ops.Ready()} {
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
		l.logger.Info("loggregator ready", "ingress", l.IngressAddr(), "api", l.APIAddr(), "ops", l.OpsAddr())
		close(l.ready)
	}()
	units := []runner.Named{
		{Name: "ops", Runner: l.ops},
		{Name: "ingress", Runner: l.rpc},
		{Name: "api", Runner: l.api},
	}
	if l.cfg.RouteRegistrar.Enabled() {
		units = append(units, runner.Named{Name: "route_registrar", Runner: registrar.NewDaemon(l.cfg.RouteRegistrar, "log-cache", l.logger)})
	}
	err := runner.Group(ctx, units...)
	if err != nil {
		return fmt.Errorf("loggregator: %w", err)
	}
	return nil
}
