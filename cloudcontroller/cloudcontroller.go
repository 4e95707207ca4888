// Package cloudcontroller is the cloud_controller daemon: Cloud Foundry's
// v3 REST API with state in Postgres.
//
// Lifecycle: New checks the config; Run brings up the ops listener, then
// connects to Postgres (retrying while it is unreachable), applies
// migrations, bootstraps the system organization, the stacks and the apps
// domain, and serves the API until ctx is cancelled. /readyz is ready once
// the API listener is bound and the database answers.
package cloudcontroller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/diego"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/uaaclient"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/zipcheck"
	"github.com/anvilpaas/anvil/internal/bbsclient"
	"github.com/anvilpaas/anvil/internal/blobclient"
	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/runner"
	"github.com/anvilpaas/anvil/internal/tokenverify"
)

// CloudController is the daemon.
type CloudController struct {
	cfg     Config
	logger  *slog.Logger
	reg     *prometheus.Registry
	ops     *ops.Server
	serving atomic.Pointer[store.Store]
	ready   chan struct{}
	addr    atomic.Pointer[string]
}

// New validates cfg.
func New(cfg Config, logger *slog.Logger) (*CloudController, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cloud_controller: %w", err)
	}
	cc := &CloudController{cfg: cfg, logger: logger, reg: ops.NewRegistry(), ready: make(chan struct{})}
	cc.ops = ops.New(cfg.Ops, logger, cc.reg)
	cc.ops.AddCheck("api", func(ctx context.Context) error {
		st := cc.serving.Load()
		if st == nil {
			return errors.New("starting")
		}
		return st.Ping(ctx)
	})
	return cc, nil
}

// Ready is closed once the API serves.
func (cc *CloudController) Ready() <-chan struct{} { return cc.ready }

// Addr returns the API's bound address ("" before Ready).
func (cc *CloudController) Addr() string {
	if a := cc.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// Run serves until ctx is cancelled.
func (cc *CloudController) Run(ctx context.Context) error {
	units := []runner.Named{
		{Name: "ops", Runner: cc.ops},
		{Name: "api", Runner: runner.Func(cc.serve)},
	}
	if cc.cfg.RouteRegistrar.Enabled() {
		units = append(units, runner.Named{Name: "route_registrar", Runner: registrar.NewDaemon(cc.cfg.RouteRegistrar, "cloud_controller", cc.logger)})
	}
	err := runner.Group(ctx, units...)
	if err != nil {
		return fmt.Errorf("cloud_controller: %w", err)
	}
	return nil
}

func (cc *CloudController) serve(ctx context.Context) error {
	cfg := cc.cfg
	pool, err := pg.Connect(ctx, cfg.Database, cc.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	if err := st.Migrate(ctx, cc.logger); err != nil {
		return err
	}
	if err := bootstrap(ctx, st, cfg.Bootstrap); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := bootstrapRouting(ctx, st, cfg.Bootstrap); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	verifier, err := tokenverify.New(cfg.UAA.Verifier, nil, cc.logger)
	if err != nil {
		return err
	}
	var users web.UserDirectory
	var tokens diego.TokenSource
	if cfg.UAA.Client.ClientID != "" {
		c := uaaclient.New(cfg.UAA.Client, nil)
		users, tokens = c, c
	}
	blobs, err := blobstoreClient(cfg.Blobstore)
	if err != nil {
		return err
	}
	tasks, closeTasks, err := stagingTasks(ctx, cfg.Staging)
	if err != nil {
		return err
	}
	defer closeTasks()
	var signer diego.URLSigner
	if blobs != nil {
		signer = blobs
	}
	emitter, err := logemitter.New(cfg.Loggregator, logemitter.Deps{Logger: cc.logger, Registerer: cc.reg})
	if err != nil {
		return err
	}
	var logs web.LogSink
	if emitter.Enabled() {
		logs = emitter
	}
	syncer, err := cc.diegoSync(ctx, st, tokens, signer, web.NewAPILogger(st, logs, cc.logger))
	if err != nil {
		return err
	}
	handler := web.New(web.Options{
		ExternalURL: cfg.ExternalURL, UAAURL: cfg.UAA.URL, LoginURL: cfg.UAA.LoginURL,
		LogCacheURL: cfg.LogCacheURL, MaxBodyBytes: cfg.MaxBodyBytes,
		DefaultAppMemoryMB: cfg.DefaultAppMemoryMB, DefaultAppDiskMB: cfg.DefaultAppDiskMB,
		Packages: web.PackageOptions{MaxBytes: cfg.Packages.MaxBytes, TempDir: cfg.Packages.TempDir, Limits: zipcheck.Limits{
			MaxEntries: cfg.Packages.MaxEntries, MaxUncompressed: cfg.Packages.MaxUncompressedSize, MaxRatio: cfg.Packages.MaxCompressionRatio,
		}},
		Staging: web.StagingOptions{
			CallbackURL: cfg.Staging.CallbackURL, CallbackSecret: []byte(cfg.Staging.CallbackSecret),
			MemoryMB: cfg.Staging.MemoryMB, DiskMB: cfg.Staging.DiskMB, Timeout: cfg.Staging.Timeout,
			BuildpacksDir: cfg.Staging.BuildpacksDir, DefaultBuildpacks: cfg.Staging.DefaultBuildpacks,
		},
	}, web.Deps{Store: st, Verifier: verifier, Users: users, Logger: cc.logger, Registry: cc.reg, Blobs: blobs, Tasks: tasks,
		Desirer: syncer.Desirer(), Instances: syncer.InstanceReporter(), Logs: logs})
	srv := httpserver.New("cloud_controller", httpserver.Config{Listen: cfg.Listen}, handler, cc.logger)
	go func() {
		select {
		case <-srv.Ready():
			addr := srv.Addr().String()
			cc.addr.Store(&addr)
			cc.serving.Store(st)
			close(cc.ready)
		case <-ctx.Done():
		}
	}()
	units := []runner.Named{
		{Name: "http", Runner: srv},
		{Name: "jobs", Runner: runner.Func(handler.RunJobs)},
		{Name: "deployments", Runner: runner.Func(handler.RunDeployments)},
		// Registers staging.buildpacks_dir's zips as system buildpacks,
		// retrying until the blobstore answers.
		{Name: "buildpacks", Runner: runner.Func(handler.RunBuildpackBootstrap)},
	}
	if syncer != nil {
		units = append(units, runner.Named{Name: "diego_sync", Runner: syncer})
	}
	if emitter.Enabled() {
		units = append(units, runner.Named{Name: "logemitter", Runner: emitter})
	}
	return runner.Group(ctx, units...)
}

// blobstoreClient returns the blobstore client, or nil without a URL.
func blobstoreClient(cfg BlobstoreConfig) (*blobclient.Client, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	var tlsCfg *tls.Config
	if cfg.CAFile != "" || cfg.CertFile != "" {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pool, err := pki.LoadPool(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("blobstore: %w", err)
			}
			tlsCfg.RootCAs = pool
		}
		if cfg.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("blobstore: client certificate: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
	}
	return blobclient.New(blobclient.Config{
		URL: cfg.URL, TLS: tlsCfg, SharedSecret: cfg.SharedSecret,
		SigningKey: apiblob.Key{ID: cfg.SigningKey.ID, Secret: []byte(cfg.SigningKey.Secret)},
	})
}

// stagingTasks dials the BBS for staging tasks; nil without staging.bbs.
func stagingTasks(ctx context.Context, cfg StagingConfig) (web.TaskDesirer, func(), error) {
	if cfg.BBS.Address == "" && len(cfg.BBS.Addresses) == 0 {
		return nil, func() {}, nil
	}
	conn, err := bbsclient.Dial(ctx, bbsclient.Config{RPC: cfg.BBS, RequestTimeout: 10 * time.Second, Attempts: 5, Backoff: 200 * time.Millisecond})
	if err != nil {
		return nil, nil, err
	}
	return bbsTasks{bbsv1.NewBBSServiceClient(conn)}, func() { conn.Close() }, nil
}

// bbsTasks is web.TaskDesirer on the BBS's gRPC API.
type bbsTasks struct{ c bbsv1.BBSServiceClient }

func (b bbsTasks) DesireTask(ctx context.Context, guid, domain string, def *bbsv1.TaskDefinition) error {
	if _, err := b.c.DesireTask(ctx, &bbsv1.DesireTaskRequest{TaskGuid: guid, Domain: domain, Definition: def}); err != nil {
		return fmt.Errorf("desire task %s: %w", guid, err)
	}
	return nil
}

func (b bbsTasks) CancelTask(ctx context.Context, guid string) error {
	if _, err := b.c.CancelTask(ctx, &bbsv1.CancelTaskRequest{TaskGuid: guid}); err != nil {
		return fmt.Errorf("cancel task %s: %w", guid, err)
	}
	return nil
}

// bootstrap creates the default organization quota and the system
// organization if they are missing.
func bootstrap(ctx context.Context, st *store.Store, b Bootstrap) error {
	// The default quota first, so that the system organization gets it.
	if _, err := st.EnsureDefaultOrgQuota(ctx); err != nil {
		return err
	}
	f := store.Filter{Limit: 1}
	f.In("t.name", []string{b.SystemOrg})
	orgs, _, err := st.ListOrgs(ctx, f)
	if err != nil {
		return err
	}
	if len(orgs) > 0 {
		return nil
	}
	if _, err := st.CreateOrg(ctx, store.Org{Name: b.SystemOrg}); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// bootstrapRouting creates the configured stacks and apps domain if they
// are missing and marks the default stack.
func bootstrapRouting(ctx context.Context, st *store.Store, b Bootstrap) error {
	for _, s := range b.Stacks {
		if err := st.EnsureStack(ctx, s.Name, s.Description); err != nil {
			return err
		}
	}
	if err := st.SetDefaultStack(ctx, b.DefaultStack); err != nil {
		return err
	}
	if b.AppsDomain == "" {
		return nil
	}
	d, err := st.EnsureSharedDomain(ctx, b.AppsDomain)
	if err != nil {
		return err
	}
	if !d.Shared() {
		return fmt.Errorf("apps domain %q exists as a private domain of organization %s", d.Name, d.OrgGUID)
	}
	return nil
}
