package auctioneer

import (
	"time"

	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Config is the auctioneer daemon's configuration file.
type Config struct {
	// RPC is the AuctioneerService listener (mutual TLS; the BBS calls it).
	RPC     rpc.ServerConfig `yaml:"rpc"`
	Ops     ops.Config       `yaml:"ops"`
	Logging logging.Config   `yaml:"logging"`
	BBS     BBSConfig        `yaml:"bbs"`
	Rep     RepConfig        `yaml:"rep"`
	Auction AuctionConfig    `yaml:"auction"`
	// Registry is the cell registry (memberlist) the auctioneer joins as an
	// observer to find cells. Unused when Deps.Cells is given.
	Registry cellregistry.Config `yaml:"registry"`
}

// BBSConfig is how to reach the BBS, where placement failures are reported.
type BBSConfig struct {
	// ClientConfig is the connection: addresses lists every BBS
	// ("host:port"; only the active one listens, and calls go to whichever
	// accepts) or address names one; cert_file, key_file, ca_file and an
	// optional server_name are the TLS material.
	rpc.ClientConfig `yaml:",inline"`
	// RequestTimeout bounds one try of a call.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Attempts is how many tries a call gets while no BBS serves it
	// (connection down, UNAVAILABLE, timed out); other errors end it.
	Attempts int `yaml:"attempts"`
}

// RepConfig is how to reach the cells' reps.
type RepConfig struct {
	// ClientConfig holds the one client certificate used for every rep
	// (cert_file, key_file, ca_file). The addresses come from the cell
	// registry, so address and addresses must stay empty. With server_name
	// empty a rep's certificate must be valid for the host of its address.
	rpc.ClientConfig `yaml:",inline"`
	// StateTimeout bounds a cell's answer to State; cells slower than this
	// sit the auction out (Diego's cell_state_timeout).
	StateTimeout time.Duration `yaml:"state_timeout"`
	// PerformTimeout bounds a cell's answer to Perform (Diego's
	// communication_timeout).
	PerformTimeout time.Duration `yaml:"perform_timeout"`
}

// AuctionConfig tunes batching and placement.
type AuctionConfig struct {
	// BatchWindow is how long work is collected, after the first request,
	// before an auction runs.
	BatchWindow time.Duration `yaml:"batch_window"`
	// BatchFlushSize starts the auction before the window ends once this
	// many instances and tasks are waiting.
	BatchFlushSize int `yaml:"batch_flush_size"`
	// MaxQueued bounds the instances and tasks waiting; requests beyond it
	// fail with RESOURCE_EXHAUSTED.
	MaxQueued int `yaml:"max_queued"`
	// MaxRetries is how many more auctions an instance or task gets after
	// a cell refused it or could not be reached. 0 means 5 (Diego's
	// maxRetries); -1 means none.
	MaxRetries int `yaml:"max_retries"`
	// StartingContainerWeight is added to a cell's score for each
	// container it is still starting, to avoid piling starts on one cell.
	// 0 means 0.25 (Diego's default).
	StartingContainerWeight float64 `yaml:"starting_container_weight"`
	// ReportConcurrency bounds the failure reports sent to the BBS at once.
	ReportConcurrency int `yaml:"report_concurrency"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.RPC.Listen == "" {
		c.RPC.Listen = "127.0.0.1:9016"
	}
	c.RPC.Defaults()
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:9116"
	}
	c.Ops.Defaults()
	if c.BBS.RequestTimeout == 0 {
		c.BBS.RequestTimeout = 10 * time.Second
	}
	if c.BBS.Attempts == 0 {
		c.BBS.Attempts = 3
	}
	if c.Rep.StateTimeout == 0 {
		c.Rep.StateTimeout = time.Second
	}
	if c.Rep.PerformTimeout == 0 {
		c.Rep.PerformTimeout = 10 * time.Second
	}
	a := &c.Auction
	if a.BatchWindow == 0 {
		a.BatchWindow = 250 * time.Millisecond
	}
	if a.BatchFlushSize == 0 {
		a.BatchFlushSize = 1000
	}
	if a.MaxQueued == 0 {
		a.MaxQueued = 100_000
	}
	if a.MaxRetries == 0 {
		a.MaxRetries = 5
	}
	if a.StartingContainerWeight == 0 {
		a.StartingContainerWeight = 0.25
	}
	if a.ReportConcurrency == 0 {
		a.ReportConcurrency = 16
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	addEach(&p, "rpc", c.RPC.Validate())
	addEach(&p, "ops", c.Ops.Validate())
	addEach(&p, "logging", c.Logging.Validate())

	addEach(&p, "bbs", c.BBS.ClientConfig.Validate())
	if c.BBS.RequestTimeout <= 0 {
		p.Addf("bbs.request_timeout must be positive")
	}
	if c.BBS.Attempts < 1 {
		p.Addf("bbs.attempts must be at least 1")
	}

	if c.Rep.Address != "" || len(c.Rep.Addresses) > 0 {
		p.Addf("rep: address and addresses are not used (rep addresses come from the cell registry)")
	}
	tlsOnly := c.Rep.ClientConfig
	tlsOnly.Address, tlsOnly.Addresses = "rep:0", nil
	addEach(&p, "rep", tlsOnly.Validate())
	if c.Rep.StateTimeout <= 0 || c.Rep.PerformTimeout <= 0 {
		p.Addf("rep.state_timeout and rep.perform_timeout must be positive")
	}

	a := c.Auction
	if a.BatchWindow <= 0 {
		p.Addf("auction.batch_window must be positive")
	}
	if a.BatchFlushSize < 1 {
		p.Addf("auction.batch_flush_size must be at least 1")
	}
	if a.MaxQueued < a.BatchFlushSize {
		p.Addf("auction.max_queued (%d) must be at least batch_flush_size (%d)", a.MaxQueued, a.BatchFlushSize)
	}
	if a.MaxRetries < -1 {
		p.Addf("auction.max_retries must be -1 (none), 0 (default) or positive")
	}
	if a.StartingContainerWeight < 0 {
		p.Addf("auction.starting_container_weight must not be negative")
	}
	if a.ReportConcurrency < 1 {
		p.Addf("auction.report_concurrency must be at least 1")
	}
	return p.Err()
}

// addEach records each of the joined errors in err, prefixed with field,
// so that every line of the report names its section.
func addEach(p *config.Problems, field string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			addEach(p, field, e)
		}
		return
	}
	p.Add(field, err)
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// maxRetries is the retry count the auction loop uses.
func (a AuctionConfig) maxRetries() int {
	return max(a.MaxRetries, 0)
}
