// Command uaa is Anvil's OAuth2 server and user store.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/internal/daemon"
	"github.com/anvilpaas/anvil/uaa"
)

func main() {
	var cfg uaa.Config
	os.Exit(daemon.Main("uaa", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		u, err := uaa.New(cfg, logger)
		if err != nil {
			return err
		}
		return u.Run(ctx)
	}))
}
