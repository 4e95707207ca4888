// Command gorouter is the platform's HTTP(S) front door: it routes requests
// to app instances by the routes it learns over NATS. SIGTERM or SIGUSR1
// drains it (see docs/gorouter.md).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/gorouter"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg gorouter.Config
	os.Exit(daemon.Main("gorouter", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		r, err := gorouter.New(cfg, gorouter.Deps{Logger: logger})
		if err != nil {
			return err
		}
		return r.Run(ctx)
	}, daemon.USR1Drains()))
}
