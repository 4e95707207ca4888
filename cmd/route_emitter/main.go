// Command route_emitter registers Diego's running instances with the
// gorouters over NATS.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/diego/routeemitter"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg routeemitter.Config
	os.Exit(daemon.Main("route_emitter", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		e, err := routeemitter.New(cfg, routeemitter.Deps{Logger: logger})
		if err != nil {
			return err
		}
		return e.Run(ctx)
	}))
}
