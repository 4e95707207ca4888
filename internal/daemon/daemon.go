// Package daemon is the shared body of every Anvil daemon's main: flags,
// config, logger, signals, run, exit code.
//
// A daemon's main is then a few lines:
//
//	func main() {
//		var cfg uaa.Config
//		os.Exit(daemon.Main("uaa", &cfg, os.Args[1:], func(ctx context.Context, logger *slog.Logger) error {
//			u, err := uaa.New(cfg, logger)
//			if err != nil {
//				return err
//			}
//			return u.Run(ctx)
//		}))
//	}
//
// Flags: -config PATH (required) and -check-config (validate and exit).
// SIGHUP re-reads the config file's logging.level; SIGUSR1 dumps goroutine
// stacks; SIGINT/SIGTERM cancel ctx, and a second one exits at once.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/runner"
)

// Config is a daemon's configuration.
type Config interface {
	config.Validatable
	// LoggingConfig returns the logging section.
	LoggingConfig() logging.Config
}

// Main runs a daemon and returns its exit code: 0 after a clean shutdown,
// 1 on a run error, 2 on bad flags or config.
func Main(name string, cfg Config, args []string, run func(ctx context.Context, logger *slog.Logger) error, opts ...Option) int {
	return mainWith(name, cfg, args, os.Stdout, os.Stderr, run, opts...)
}

// Option changes how Main runs a daemon.
type Option func(*runner.SignalOptions)

// USR1Drains makes SIGUSR1 shut the daemon down like SIGTERM (the
// gorouter's drain signal, as in Cloud Foundry) instead of dumping stacks.
func USR1Drains() Option {
	return func(o *runner.SignalOptions) { o.USR1Terminates = true }
}

func mainWith(name string, cfg Config, args []string, stdout, stderr io.Writer, run func(ctx context.Context, logger *slog.Logger) error, opts ...Option) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path of the YAML config file (required)")
	check := fs.Bool("check-config", false, "validate the config file and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintf(stderr, "%s: -config is required\n", name)
		fs.Usage()
		return 2
	}
	if err := config.Load(*path, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "%s: config %s is valid\n", name, *path)
		return 0
	}
	logger, err := logging.New(stderr, name, cfg.LoggingConfig())
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	sigOpts := runner.SignalOptions{
		Logger: logger.Logger,
		Dump:   stderr,
		Reload: func() { reloadLevel(*path, logger) },
	}
	for _, o := range opts {
		o(&sigOpts)
	}
	ctx, stop := runner.Signals(context.Background(), sigOpts)
	defer stop()
	logger.Info("starting", "config", *path, "pid", os.Getpid())
	if err := run(ctx, logger.Logger); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("exiting", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// reloadLevel re-reads logging.level from the config file.
func reloadLevel(path string, logger logging.Logger) {
	data, err := os.ReadFile(path)
	if err != nil {
		logger.Error("reload: read config", "err", err)
		return
	}
	var doc struct {
		Logging logging.Config `yaml:"logging"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		logger.Error("reload: parse config", "err", err)
		return
	}
	lvl, err := logging.ParseLevel(doc.Logging.Level)
	if err != nil {
		logger.Error("reload", "err", err)
		return
	}
	logger.Level.Set(lvl)
	logger.Info("reloaded", "level", lvl.String())
}
