// Package uaa is the uaa daemon: an OAuth2 server and user store that is
// wire-compatible with Cloud Foundry's UAA for what the cf CLI and the
// platform's components use.
//
// It issues RS256 JWTs (password, client_credentials and refresh_token
// grants), publishes its keys at /token_keys, serves SCIM users and groups
// and the clients API, and keeps its state in Postgres. Other daemons
// verify its tokens with internal/tokenverify.
//
// Lifecycle: New checks the config and loads the signing keys; Run connects
// to Postgres (retrying while it is unreachable), applies migrations,
// bootstraps the configured groups, users and clients, then serves HTTP and
// the ops listener until ctx is cancelled. /readyz turns ready once the
// listener is bound and the database answers.
package uaa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/anvilpaas/anvil/internal/httpserver"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/internal/runner"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/uaa/internal/keys"
	"github.com/anvilpaas/anvil/uaa/internal/store"
	"github.com/anvilpaas/anvil/uaa/internal/web"
)

// UAA is the daemon.
type UAA struct {
	cfg    Config
	logger *slog.Logger
	keys   *keys.Set
	ops    *ops.Server
	// serving is set once the API listener is bound and the database is
	// migrated and bootstrapped.
	serving atomic.Pointer[store.Store]
	ready   chan struct{}
	addr    atomic.Pointer[string]
}

// Ready is closed once the API serves: the database is migrated and
// bootstrapped and the listener is bound.
func (u *UAA) Ready() <-chan struct{} { return u.ready }

// Addr returns the API's bound address ("" before Ready).
func (u *UAA) Addr() string {
	if a := u.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// OpsAddr returns the ops listener's bound address ("" before it is bound).
func (u *UAA) OpsAddr() string {
	if a := u.ops.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// New validates cfg and loads the signing keys.
func New(cfg Config, logger *slog.Logger) (*UAA, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("uaa: %w", err)
	}
	var ks []keys.Key
	for _, k := range cfg.SigningKeys {
		data := []byte(k.PEM)
		if k.PEMFile != "" {
			var err error
			if data, err = os.ReadFile(k.PEMFile); err != nil {
				return nil, fmt.Errorf("uaa: signing key %q: %w", k.ID, err)
			}
		}
		ks = append(ks, keys.Key{ID: k.ID, PEM: data})
	}
	set, err := keys.Load(ks, cfg.ActiveKeyID, cfg.SigningEngine)
	if err != nil {
		return nil, fmt.Errorf("uaa: %w", err)
	}
	logger.Info("token signing", "engine", set.Engine(), "active_key_id", set.ActiveID())
	u := &UAA{cfg: cfg, logger: logger, keys: set, ready: make(chan struct{})}
	u.ops = ops.New(cfg.Ops, logger, ops.NewRegistry())
	u.ops.AddCheck("api", func(ctx context.Context) error {
		st := u.serving.Load()
		if st == nil {
			return errors.New("starting")
		}
		return st.Ping(ctx)
	})
	return u, nil
}

// Run serves until ctx is cancelled. The ops listener comes up first, so
// that /healthz answers while the database is still being waited for.
func (u *UAA) Run(ctx context.Context) error {
	units := []runner.Named{
		{Name: "ops", Runner: u.ops},
		{Name: "api", Runner: runner.Func(u.serve)},
	}
	if u.cfg.RouteRegistrar.Enabled() {
		units = append(units, runner.Named{Name: "route_registrar", Runner: registrar.NewDaemon(u.cfg.RouteRegistrar, "uaa", u.logger)})
	}
	err := runner.Group(ctx, units...)
	if err != nil {
		return fmt.Errorf("uaa: %w", err)
	}
	return nil
}

// serve connects to the database, prepares it and serves the API.
func (u *UAA) serve(ctx context.Context) error {
	cfg := u.cfg
	pool, err := pg.Connect(ctx, cfg.Database, u.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	if err := st.Migrate(ctx, u.logger); err != nil {
		return err
	}
	if err := bootstrap(ctx, st, cfg.Bootstrap, cfg.DefaultGroups, cfg.BcryptCost); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	verifier, err := tokenverify.New(tokenverify.Config{UAAURL: cfg.URL, Issuer: cfg.Issuer()},
		tokenverify.StaticKeys(u.keys.JWKS().Keys...), u.logger)
	if err != nil {
		return err
	}
	handler, err := web.New(web.Options{
		URL: cfg.URL, LoginURL: cfg.LoginURL, BcryptCost: cfg.BcryptCost,
		AccessTokenValidity: cfg.AccessTokenValidity, RefreshTokenValidity: cfg.RefreshTokenValidity,
		Lockout:      web.Lockout{AfterFailures: cfg.Lockout.AfterFailures, CountWithin: cfg.Lockout.CountWithin, Period: cfg.Lockout.Period},
		MaxBodyBytes: cfg.MaxBodyBytes, DefaultGroups: cfg.DefaultGroups, ClientCacheTTL: cfg.ClientCacheTTL,
	}, web.Deps{Store: st, Keys: u.keys, Verifier: verifier, Logger: u.logger})
	if err != nil {
		return err
	}
	go u.sweepRefreshTokens(ctx, st)
	srv := httpserver.New("uaa", httpserver.Config{Listen: cfg.Listen}, handler, u.logger)
	go func() {
		select {
		case <-srv.Ready():
			addr := srv.Addr().String()
			u.addr.Store(&addr)
			u.serving.Store(st)
			close(u.ready)
		case <-ctx.Done():
		}
	}()
	return srv.Run(ctx)
}

// sweepRefreshTokens deletes expired refresh tokens every hour until ctx
// is cancelled. Expired tokens are refused anyway; this only bounds the
// table.
func (u *UAA) sweepRefreshTokens(ctx context.Context, st *store.Store) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := st.DeleteExpiredRefreshTokens(ctx, now)
			if err != nil && ctx.Err() == nil {
				u.logger.Warn("sweep expired refresh tokens", "err", err)
			} else if n > 0 {
				u.logger.Info("swept expired refresh tokens", "count", n)
			}
		}
	}
}
