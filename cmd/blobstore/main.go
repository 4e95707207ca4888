// Command blobstore is Anvil's object store for packages, droplets,
// buildpacks and caches.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/blobstore"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg blobstore.Config
	os.Exit(daemon.Main("blobstore", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		b, err := blobstore.New(cfg, logger)
		if err != nil {
			return err
		}
		return b.Run(ctx)
	}))
}
