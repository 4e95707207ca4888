package registrar

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/anvilpaas/anvil/internal/natsconn"
)

// DaemonConfig is the route_registrar section of a system daemon's config
// (cloud_controller, uaa, loggregator): the NATS servers and the daemon's
// own registration. Without a NATS URL the daemon registers nothing (the
// dev shape, where clients reach it directly).
type DaemonConfig struct {
	NATS   natsconn.FileConfig `yaml:"nats"`
	Config `yaml:",inline"`
}

// Enabled reports whether a NATS URL is configured.
func (c *DaemonConfig) Enabled() bool { return c.NATS.URL != "" }

// Defaults fills unset fields.
func (c *DaemonConfig) Defaults() { c.Config.Defaults() }

// Validate reports every problem; a disabled section is valid.
func (c *DaemonConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if err := c.NATS.Validate(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	return c.Config.Validate()
}

// Daemon runs a daemon's registrar: it connects to NATS (retrying until
// the server answers) and registers the daemon's routes until ctx is
// done, then unregisters them. Its Run is a runner unit.
type Daemon struct {
	cfg    DaemonConfig
	name   string
	logger *slog.Logger
}

// NewDaemon returns the registrar of daemon name for cfg (after Defaults
// and Validate).
func NewDaemon(cfg DaemonConfig, name string, logger *slog.Logger) *Daemon {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Daemon{cfg: cfg, name: name, logger: logger.With("component", "route_registrar")}
}

// Run registers until ctx is done; it returns nil then.
func (d *Daemon) Run(ctx context.Context) error {
	ncfg, err := d.cfg.NATS.Config(d.name + "-route-registrar")
	if err != nil {
		return fmt.Errorf("route registrar: %w", err)
	}
	nc, err := natsconn.Connect(ctx, ncfg, d.logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("route registrar: %w", err)
	}
	defer nc.Close()
	cfg := d.cfg.Config
	if cfg.Tags == nil {
		cfg.Tags = map[string]string{"component": d.name}
	}
	r, err := New(cfg, Deps{Conn: nc, Logger: d.logger})
	if err != nil {
		return fmt.Errorf("route registrar: %w", err)
	}
	return r.Run(ctx)
}
