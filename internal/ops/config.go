package ops

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultCheckTimeout    = 2 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Config configures the operations listener.
type Config struct {
	// Listen is the TCP address to serve on, for example "127.0.0.1:9100".
	// Each daemon fills in its own default before calling Defaults.
	Listen string `yaml:"listen"`
	// CheckTimeout bounds each readiness check.
	CheckTimeout time.Duration `yaml:"check_timeout"`
	// ShutdownTimeout bounds the graceful HTTP shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Defaults fills the unset timeouts. Listen has no package default: each
// daemon sets its own port.
func (c *Config) Defaults() {
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
}

// Validate returns every problem with c, joined.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: required"))
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if c.CheckTimeout < 0 {
		errs = append(errs, fmt.Errorf("check_timeout: %v is negative", c.CheckTimeout))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %v is negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
