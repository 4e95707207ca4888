// Command loggregator receives Anvil's logs and metrics (loggregator v2
// ingress) and serves them to the cf CLI (the log-cache API).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/internal/daemon"
	"github.com/anvilpaas/anvil/loggregator"
)

func main() {
	var cfg loggregator.Config
	os.Exit(daemon.Main("loggregator", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		l, err := loggregator.New(cfg, loggregator.Deps{Logger: logger})
		if err != nil {
			return err
		}
		return l.Run(ctx)
	}))
}
