package blobstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/resources"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
	"github.com/anvilpaas/anvil/blobstore/internal/storage/localfs"
	"github.com/anvilpaas/anvil/blobstore/internal/web"
	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/runner"
)

// Blobstore is the daemon.
type Blobstore struct {
	cfg     Config
	logger  *slog.Logger
	tls     *tls.Config
	metrics *web.Metrics
	ops     *ops.Server
	// store is set while the storage is open.
	store atomic.Pointer[localfs.Store]
	ready chan struct{}
	addr  atomic.Pointer[string]
}

// New validates cfg and loads the TLS material. It touches no storage:
// Run opens it.
func New(cfg Config, logger *slog.Logger) (*Blobstore, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	b := &Blobstore{cfg: cfg, logger: logger, ready: make(chan struct{})}
	if cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("blobstore: tls: %w", err)
		}
		var clientCAs *x509.CertPool
		if cfg.TLS.CAFile != "" {
			if clientCAs, err = pki.LoadPool(cfg.TLS.CAFile); err != nil {
				return nil, fmt.Errorf("blobstore: tls: %w", err)
			}
		}
		// Client certificates are optional (cells use signed URLs) but
		// verified against clientCAs when presented.
		b.tls = pki.ServerTLS(cert, clientCAs, false)
	}
	reg := ops.NewRegistry()
	b.metrics = web.NewMetrics(reg)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "blobstore_disk_free_bytes", Help: "Bytes available on the storage filesystem.",
	}, func() float64 {
		s := b.store.Load()
		if s == nil {
			return 0
		}
		n, err := s.FreeBytes()
		if err != nil {
			return 0
		}
		return float64(n)
	}))
	b.ops = ops.New(cfg.Ops, logger, reg)
	b.ops.AddCheck("api", ops.ReadyCheck(b.ready))
	b.ops.AddCheck("storage", func(ctx context.Context) error {
		s := b.store.Load()
		if s == nil {
			return errors.New("not open")
		}
		return s.Check(ctx)
	})
	return b, nil
}

// Ready is closed once the API serves: the storage is open (temp files of
// a previous run swept) and the listener is bound.
func (b *Blobstore) Ready() <-chan struct{} { return b.ready }

// Addr returns the API's bound address ("" before Ready).
func (b *Blobstore) Addr() string {
	if a := b.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// OpsAddr returns the ops listener's bound address ("" before it is bound).
func (b *Blobstore) OpsAddr() string {
	if a := b.ops.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Run serves until ctx is cancelled.
func (b *Blobstore) Run(ctx context.Context) error {
	err := runner.Group(ctx,
		runner.Named{Name: "ops", Runner: b.ops},
		runner.Named{Name: "api", Runner: runner.Func(b.serve)},
	)
	if err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	return nil
}

// serve opens the storage and serves the API.
func (b *Blobstore) serve(ctx context.Context) error {
	cfg := b.cfg
	store, err := localfs.Open(cfg.Storage.Dir, b.logger)
	if err != nil {
		return err
	}
	defer store.Close()
	b.store.Store(store)
	defer b.store.Store(nil)

	res := resources.New(resources.Config{
		MinSize: cfg.ResourceCache.MinSize, MaxSize: cfg.ResourceCache.MaxSize,
		MaxEntries: cfg.Packages.MaxEntries, MaxUncompressed: cfg.Packages.MaxUncompressedSize,
		MaxPackageSize: cfg.MaxObjectSize, MaxConcurrent: cfg.Packages.MaxConcurrent,
		ScratchDir: store.TempDir(),
	}, store, b.logger)
	handler := web.New(web.Options{
		MaxObjectSize:        cfg.MaxObjectSize,
		SharedSecrets:        cfg.Auth.SharedSecrets,
		ClientNames:          cfg.Auth.ClientNames,
		SigningKeys:          cfg.signingKeys(),
		MaxSignedURLLifetime: cfg.Auth.MaxSignedURLLifetime,
		BodyIdleTimeout:      cfg.BodyIdleTimeout,
		MaxPackageEntries:    cfg.Packages.MaxEntries,
		MaxPackageSize:       cfg.MaxObjectSize,
	}, web.Deps{Store: store, Resources: res, Metrics: b.metrics, Logger: b.logger})
	srv := httpserver.New("blobstore", httpserver.Config{Listen: cfg.Listen, TLS: b.tls, ShutdownTimeout: cfg.ShutdownTimeout}, handler, b.logger)
	go func() {
		select {
		case <-srv.Ready():
			addr := srv.Addr().String()
			b.addr.Store(&addr)
			close(b.ready)
		case <-ctx.Done():
		}
	}()
	if cfg.StatsInterval > 0 {
		go b.countObjects(ctx, store, cfg.StatsInterval)
	}
	return srv.Run(ctx)
}

// countObjects recounts the objects and bytes of every bucket for the
// metrics, at start and then every interval, until ctx is cancelled.
func (b *Blobstore) countObjects(ctx context.Context, l storage.Lister, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, bucket := range apiblob.Buckets() {
			objects, bytes, err := countBucket(ctx, l, bucket)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				b.logger.Warn("count objects", "bucket", bucket, "err", err)
				continue
			}
			b.metrics.SetBucketStats(bucket, objects, bytes)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func countBucket(ctx context.Context, l storage.Lister, bucket string) (objects, bytes int64, err error) {
	const page = 1000
	after := ""
	for {
		infos, err := l.List(ctx, bucket, storage.ListOptions{StartAfter: after, Limit: page})
		if err != nil {
			return 0, 0, err
		}
		for _, i := range infos {
			objects++
			bytes += i.Size
		}
		if len(infos) < page {
			return objects, bytes, nil
		}
		after = infos[len(infos)-1].Key
	}
}
