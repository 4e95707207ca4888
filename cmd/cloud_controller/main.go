// Command cloud_controller serves Anvil's Cloud Foundry v3 API.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/cloudcontroller"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg cloudcontroller.Config
	os.Exit(daemon.Main("cloud_controller", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		cc, err := cloudcontroller.New(cfg, logger)
		if err != nil {
			return err
		}
		return cc.Run(ctx)
	}))
}
