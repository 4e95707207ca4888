package logemitter

import (
	"errors"
	"fmt"
	"time"

	"github.com/anvilpaas/anvil/internal/rpc"
)

// Defaults of Config's zero values.
const (
	DefaultBufferSize    = 10_000
	DefaultBatchSize     = 256
	DefaultFlushInterval = 100 * time.Millisecond
)

// Config is the loggregator section of a daemon's configuration.
type Config struct {
	// ClientConfig is the loggregator ingress: address ("host:port"),
	// cert_file, key_file, ca_file and an optional server_name. With no
	// address the Emitter is disabled.
	rpc.ClientConfig `yaml:",inline"`
	// BufferSize is how many envelopes wait to be sent at most; beyond it
	// the oldest are dropped.
	BufferSize int `yaml:"buffer_size"`
	// BatchSize bounds the envelopes of one BatchSender message.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest an envelope waits for a batch to fill.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Origin is set as the origin tag of every envelope that has none
	// (e.g. "rep", "gorouter", "cloud_controller").
	Origin string `yaml:"origin"`
	// Tags are added to every envelope, without overwriting its own.
	Tags map[string]string `yaml:"tags"`
}

// Enabled reports whether an address is configured.
func (c *Config) Enabled() bool { return c.Address != "" || len(c.Addresses) > 0 }

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
}

// Validate reports every problem, joined. A disabled config is valid.
func (c *Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if err := c.ClientConfig.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BufferSize < 1 {
		errs = append(errs, fmt.Errorf("buffer_size: %d is less than 1", c.BufferSize))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch_size: %d is less than 1", c.BatchSize))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, errors.New("flush_interval: must be positive"))
	}
	return errors.Join(errs...)
}
