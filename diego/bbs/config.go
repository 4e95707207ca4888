package bbs

import (
	"time"

	"github.com/anvilpaas/anvil/diego/bbs/internal/callbacks"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Config is the bbs daemon's configuration file.
type Config struct {
	// GRPC is the BBS API listener and its mutual TLS. Only the active BBS
	// listens.
	GRPC    rpc.ServerConfig `yaml:"grpc"`
	Ops     ops.Config       `yaml:"ops"`
	Logging logging.Config   `yaml:"logging"`
	// Database is the pool for changes; its max_conns defaults to pgx's
	// (the larger of 4 and the CPUs), which BenchmarkPlace10k found
	// fastest: more sessions than Postgres has cores only contend.
	Database pg.Config `yaml:"database"`
	// ReadConns is the size of a second pool for list and get queries
	// (default 2), so that readers (Cloud Controller, route emitters) never
	// queue behind a storm of claims and starts.
	ReadConns int32 `yaml:"read_conns"`

	// Auctioneer is where instances and tasks are sent for placement.
	Auctioneer rpc.ClientConfig `yaml:"auctioneer"`
	// RepClient is the client certificate used to call cells' reps; the
	// address comes from each cell's registration.
	RepClient RepClientConfig `yaml:"rep_client"`
	// Registry is the cell registry (memberlist) this BBS watches.
	Registry cellregistry.Config `yaml:"registry"`

	Convergence ConvergenceConfig `yaml:"convergence"`
	Tasks       TasksConfig       `yaml:"tasks"`
	Callbacks   callbacks.Config  `yaml:"callbacks"`
	Lock        LockConfig        `yaml:"lock"`
}

// RepClientConfig holds the files for calling reps over mutual TLS.
type RepClientConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

// ConvergenceConfig tunes convergence.
type ConvergenceConfig struct {
	// Interval between passes (default 30s).
	Interval time.Duration `yaml:"interval"`
	// StaleUnclaimedAfter is when an UNCLAIMED instance is auctioned again
	// (default 30s).
	StaleUnclaimedAfter time.Duration `yaml:"stale_unclaimed_after"`
}

// TasksConfig tunes task expiry.
type TasksConfig struct {
	// ExpirePendingAfter fails tasks never started (default 30m).
	ExpirePendingAfter time.Duration `yaml:"expire_pending_after"`
	// ExpireCompletedAfter deletes completed tasks nobody resolved
	// (default 2m).
	ExpireCompletedAfter time.Duration `yaml:"expire_completed_after"`
	// KickInterval re-auctions pending tasks and re-sends callbacks
	// (default 30s).
	KickInterval time.Duration `yaml:"kick_interval"`
	// MaxRetries is how often a task refused by cells is placed again
	// before it fails (default 3).
	MaxRetries int `yaml:"max_retries"`
}

// LockConfig tunes the active/passive election.
type LockConfig struct {
	// RetryInterval is how often a passive BBS tries for the lock
	// (default 1s).
	RetryInterval time.Duration `yaml:"retry_interval"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.GRPC.Listen == "" {
		c.GRPC.Listen = "127.0.0.1:8889"
	}
	c.GRPC.Defaults()
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:8890"
	}
	c.Ops.Defaults()
	if c.ReadConns == 0 {
		c.ReadConns = 2
	}
	c.Auctioneer.Defaults()
	c.Registry.Defaults()
	c.Callbacks.Defaults()
	if c.Convergence.Interval == 0 {
		c.Convergence.Interval = 30 * time.Second
	}
	if c.Convergence.StaleUnclaimedAfter == 0 {
		c.Convergence.StaleUnclaimedAfter = 30 * time.Second
	}
	if c.Tasks.ExpirePendingAfter == 0 {
		c.Tasks.ExpirePendingAfter = 30 * time.Minute
	}
	if c.Tasks.ExpireCompletedAfter == 0 {
		c.Tasks.ExpireCompletedAfter = 2 * time.Minute
	}
	if c.Tasks.KickInterval == 0 {
		c.Tasks.KickInterval = 30 * time.Second
	}
	if c.Lock.RetryInterval == 0 {
		c.Lock.RetryInterval = time.Second
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	p.Add("grpc", c.GRPC.Validate())
	p.Add("ops", c.Ops.Validate())
	p.Add("logging", c.Logging.Validate())
	p.Require("database.dsn", c.Database.DSN)
	if c.ReadConns < 0 {
		p.Addf("read_conns %d is negative", c.ReadConns)
	}
	p.Add("auctioneer", c.Auctioneer.Validate())
	p.Require("rep_client.cert_file", c.RepClient.CertFile)
	p.Require("rep_client.key_file", c.RepClient.KeyFile)
	p.Require("rep_client.ca_file", c.RepClient.CAFile)
	p.Add("registry", c.Registry.Validate())
	p.Add("callbacks", c.Callbacks.Validate())
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"convergence.interval", c.Convergence.Interval},
		{"convergence.stale_unclaimed_after", c.Convergence.StaleUnclaimedAfter},
		{"tasks.expire_pending_after", c.Tasks.ExpirePendingAfter},
		{"tasks.expire_completed_after", c.Tasks.ExpireCompletedAfter},
		{"tasks.kick_interval", c.Tasks.KickInterval},
		{"lock.retry_interval", c.Lock.RetryInterval},
	} {
		if d.d < 0 {
			p.Addf("%s %v is negative", d.name, d.d)
		}
	}
	return p.Err()
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// repClient is the client configuration for the rep at address.
func (c *Config) repClient(address string) rpc.ClientConfig {
	return rpc.ClientConfig{Address: address, CertFile: c.RepClient.CertFile, KeyFile: c.RepClient.KeyFile, CAFile: c.RepClient.CAFile}
}
