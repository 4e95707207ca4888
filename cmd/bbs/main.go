// Command bbs serves Diego's BBS: desired and actual state, convergence and
// the gRPC API the Cloud Controller, auctioneer and cells use.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/diego/bbs"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg bbs.Config
	os.Exit(daemon.Main("bbs", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		b, err := bbs.New(cfg, logger)
		if err != nil {
			return err
		}
		return b.Run(ctx)
	}))
}
