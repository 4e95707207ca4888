// Command auctioneer places Diego's instances and tasks on cells.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/diego/auctioneer"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg auctioneer.Config
	os.Exit(daemon.Main("auctioneer", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		a, err := auctioneer.New(cfg, auctioneer.Deps{Logger: logger})
		if err != nil {
			return err
		}
		return a.Run(ctx)
	}))
}
