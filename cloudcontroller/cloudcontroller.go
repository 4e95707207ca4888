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
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/uaaclient"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
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
	err := runner.Group(ctx,
		runner.Named{Name: "ops", Runner: cc.ops},
		runner.Named{Name: "api", Runner: runner.Func(cc.serve)},
	)
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
	if cfg.UAA.Client.ClientID != "" {
		users = uaaclient.New(cfg.UAA.Client, nil)
	}
	handler := web.New(web.Options{
		ExternalURL: cfg.ExternalURL, UAAURL: cfg.UAA.URL, LoginURL: cfg.UAA.LoginURL,
		LogCacheURL: cfg.LogCacheURL, MaxBodyBytes: cfg.MaxBodyBytes,
		DefaultAppMemoryMB: cfg.DefaultAppMemoryMB, DefaultAppDiskMB: cfg.DefaultAppDiskMB,
	}, web.Deps{Store: st, Verifier: verifier, Users: users, Logger: cc.logger, Registry: cc.reg})
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
	return runner.Group(ctx,
		runner.Named{Name: "http", Runner: srv},
		runner.Named{Name: "jobs", Runner: runner.Func(handler.RunJobs)},
	)
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
