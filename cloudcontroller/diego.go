package cloudcontroller

import (
	"context"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/diego"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/bbsclient"
)

// diegoSync dials the BBS and returns the Diego sync, or nil when the
// diego section names no BBS. The connection is closed when ctx ends.
// tokens (may be nil) authenticates log-cache reads; signer (may be nil
// until the blobstore is wired: every desire then fails, and nothing is
// removed) signs droplet URLs.
func (cc *CloudController) diegoSync(ctx context.Context, st *store.Store, tokens diego.TokenSource, signer diego.URLSigner, logs diego.AppLogger) (*diego.Syncer, error) {
	cfg := cc.cfg.Diego
	if !cfg.Enabled() {
		return nil, nil
	}
	conn, err := bbsclient.Dial(ctx, bbsclient.Config{
		RPC: cfg.BBS.ClientConfig, RequestTimeout: cfg.BBS.RequestTimeout, Attempts: cfg.BBS.Attempts, Backoff: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	return diego.New(cfg, diego.Deps{
		Store: st, BBS: bbsv1.NewBBSServiceClient(conn), Droplets: st, Signer: signer,
		LogCacheURL: cc.cfg.LogCacheURL, Tokens: tokens, ExternalURL: cc.cfg.ExternalURL,
		Logger: cc.logger, Registry: cc.reg, AppLogs: logs,
	}), nil
}
