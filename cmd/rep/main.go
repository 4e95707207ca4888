// Command rep runs a Diego cell: it takes instances and tasks from the
// auctioneer and runs them in containerd.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/anvilpaas/anvil/diego/rep"
	"github.com/anvilpaas/anvil/internal/daemon"
)

func main() {
	var cfg rep.Config
	os.Exit(daemon.Main("rep", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
		r, err := rep.New(cfg, rep.Deps{Logger: logger})
		if err != nil {
			return err
		}
		return r.Run(ctx)
	}))
}
