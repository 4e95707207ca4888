package rep

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/containerd"
	"github.com/anvilpaas/anvil/internal/cellregistry"
	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logemitter"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Config is the rep daemon's configuration file.
type Config struct {
	// RPC is the RepService listener (mutual TLS; the auctioneer and the
	// BBS call it). Default listen 127.0.0.1:1801.
	RPC rpc.ServerConfig `yaml:"rpc"`
	// AdvertiseAddress is how the auctioneer and the BBS reach RPC,
	// "host" or "host:port", published in the cell presence. By default
	// the listen host with the bound port; required when RPC listens on
	// all interfaces. Without a port, the bound port is used.
	AdvertiseAddress string `yaml:"advertise_address"`
	// Ops is the operations listener (/metrics, /healthz, /readyz,
	// pprof). Default listen 127.0.0.1:1802.
	Ops     ops.Config     `yaml:"ops"`
	Logging logging.Config `yaml:"logging"`

	// CellID names the cell, uniquely; it is the registry node name.
	CellID string `yaml:"cell_id"`
	// Zone is the cell's availability zone.
	Zone string `yaml:"zone"`
	// Stacks maps each stack the cell offers ("cflinuxfs4") to its root
	// filesystem directory, imported into the runtime at start.
	Stacks map[string]string `yaml:"stacks"`
	// PlacementTags must all be required by an LRP or task placed here;
	// OptionalPlacementTags may be.
	PlacementTags         []string       `yaml:"placement_tags"`
	OptionalPlacementTags []string       `yaml:"optional_placement_tags"`
	Capacity              CapacityConfig `yaml:"capacity"`

	BBS BBSConfig `yaml:"bbs"`
	// Registry is the cell registry (memberlist) the cell joins to publish
	// its presence. NodeName must be empty or the cell id.
	Registry cellregistry.Config `yaml:"registry"`

	HealthCheck HealthCheckConfig `yaml:"health_check"`
	// GracePeriod is how long a stopped app has between SIGTERM and
	// SIGKILL. Default 10s.
	GracePeriod time.Duration `yaml:"grace_period"`
	// BulkSyncInterval is how often the cell compares its containers with
	// the BBS. Default 30s.
	BulkSyncInterval time.Duration `yaml:"bulk_sync_interval"`
	// MetricsInterval is how often container metrics are reported.
	// Default 15s.
	MetricsInterval time.Duration    `yaml:"metrics_interval"`
	Evacuation      EvacuationConfig `yaml:"evacuation"`
	Download        DownloadConfig   `yaml:"download"`
	// Loggregator receives the apps' output and container metrics (and
	// staging output) when Deps.LogSink and Deps.MetricSink are not given;
	// no address sends nothing.
	Loggregator logemitter.Config `yaml:"loggregator"`
	// MaxUploadMB bounds a file a task uploads. Default 2048.
	MaxUploadMB int64 `yaml:"max_upload_mb"`
	// LifecycleDir is the cell directory holding the lifecycle binaries
	// (launcher, builder, healthcheck), mounted read-only at
	// /tmp/lifecycle in every container. Empty mounts nothing.
	LifecycleDir string `yaml:"lifecycle_dir"`

	// Containerd configures the container runtime. Unused when
	// Deps.Runtime is given.
	Containerd containerd.Config `yaml:"containerd"`
}

// CapacityConfig is what the cell offers. Zero memory or disk means the
// machine's, minus the reserve.
type CapacityConfig struct {
	MemoryMB int32 `yaml:"memory_mb"`
	DiskMB   int32 `yaml:"disk_mb"`
	// Containers bounds the containers. Default 250.
	Containers int32 `yaml:"containers"`
	// ReservedMemoryMB is kept for the cell itself when MemoryMB is taken
	// from the machine. Default 1024.
	ReservedMemoryMB int32 `yaml:"reserved_memory_mb"`
	// ReservedDiskMB is kept when DiskMB is taken from the machine (the
	// filesystem holding download.dir). Default 4096.
	ReservedDiskMB int32 `yaml:"reserved_disk_mb"`
}

// BBSConfig is how to reach the BBS.
type BBSConfig struct {
	// ClientConfig is the connection: addresses lists every BBS
	// ("host:port"; only the active one listens) or address names one;
	// cert_file, key_file, ca_file and an optional server_name are the TLS
	// material.
	rpc.ClientConfig `yaml:",inline"`
	// RequestTimeout bounds one try of a call. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Attempts is how many tries a call gets while no BBS serves it.
	// Default 3.
	Attempts int `yaml:"attempts"`
}

// HealthCheckConfig tunes app health checks.
type HealthCheckConfig struct {
	// StartupInterval is the pause between startup checks. Default 500ms.
	StartupInterval time.Duration `yaml:"startup_interval"`
	// LivenessInterval is the pause between liveness and readiness checks
	// when the LRP sets none. Default 30s.
	LivenessInterval time.Duration `yaml:"liveness_interval"`
	// StartTimeout is how long an instance may take to become healthy
	// when the LRP sets none. Default 60s.
	StartTimeout time.Duration `yaml:"start_timeout"`
}

// EvacuationConfig tunes draining, which starts when Run's ctx ends.
type EvacuationConfig struct {
	// Timeout bounds how long running instances are kept for their
	// replacements and tasks for their ends. Default 10m.
	Timeout time.Duration `yaml:"timeout"`
	// PollInterval is the pause between evacuation rounds. Default 10s.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// DownloadConfig configures setup downloads (droplets, packages).
type DownloadConfig struct {
	// Dir holds the download cache and downloads in progress. Default
	// /var/vcap/data/rep/downloads.
	Dir string `yaml:"dir"`
	// CacheMB bounds the cache. Default 10240; -1 disables caching.
	CacheMB int64 `yaml:"cache_mb"`
	// MaxMB bounds one download. Default 4096.
	MaxMB int64 `yaml:"max_mb"`
	// Timeout bounds one download. Default 10m.
	Timeout time.Duration `yaml:"timeout"`
	// CAFile, when set, adds PEM CA certificates trusted for HTTPS
	// downloads and uploads (a blobstore with a private CA) to the
	// system's.
	CAFile string `yaml:"ca_file"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Loggregator.Origin == "" {
		c.Loggregator.Origin = "rep"
	}
	c.Loggregator.Defaults()
	if c.RPC.Listen == "" {
		c.RPC.Listen = "127.0.0.1:1801"
	}
	c.RPC.Defaults()
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:1802"
	}
	c.Ops.Defaults()
	setDefault(&c.Capacity.Containers, 250)
	setDefault(&c.Capacity.ReservedMemoryMB, 1024)
	setDefault(&c.Capacity.ReservedDiskMB, 4096)
	setDefault(&c.BBS.RequestTimeout, 10*time.Second)
	setDefault(&c.BBS.Attempts, 3)
	c.Registry.Defaults()
	setDefault(&c.HealthCheck.StartupInterval, 500*time.Millisecond)
	setDefault(&c.HealthCheck.LivenessInterval, 30*time.Second)
	setDefault(&c.HealthCheck.StartTimeout, 60*time.Second)
	setDefault(&c.GracePeriod, 10*time.Second)
	setDefault(&c.BulkSyncInterval, 30*time.Second)
	setDefault(&c.MetricsInterval, 15*time.Second)
	setDefault(&c.Evacuation.Timeout, 10*time.Minute)
	setDefault(&c.Evacuation.PollInterval, 10*time.Second)
	setDefault(&c.Download.Dir, "/var/vcap/data/rep/downloads")
	setDefault(&c.Download.CacheMB, 10240)
	setDefault(&c.Download.MaxMB, 4096)
	setDefault(&c.Download.Timeout, 10*time.Minute)
	setDefault(&c.MaxUploadMB, 2048)
	c.Containerd.Defaults()
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// Validate reports every problem. Call it after Defaults.
func (c *Config) Validate() error {
	var p config.Problems
	addEach(&p, "rpc", c.RPC.Validate())
	addEach(&p, "ops", c.Ops.Validate())
	addEach(&p, "logging", c.Logging.Validate())
	addEach(&p, "loggregator", c.Loggregator.Validate())
	if c.AdvertiseAddress != "" {
		if _, _, err := splitAdvertise(c.AdvertiseAddress); err != nil {
			p.Add("advertise_address", err)
		}
	} else if host, _, err := net.SplitHostPort(c.RPC.Listen); err == nil && unspecified(host) {
		p.Addf("advertise_address is required when rpc.listen (%s) binds all interfaces", c.RPC.Listen)
	}

	p.Require("cell_id", c.CellID)
	if strings.TrimSpace(c.CellID) != c.CellID {
		p.Addf("cell_id %q has leading or trailing space", c.CellID)
	}
	if len(c.Stacks) == 0 {
		p.Addf("stacks: at least one stack is required")
	}
	for _, name := range c.StackNames() {
		switch dir := c.Stacks[name]; {
		case name == "" || strings.ContainsAny(name, ": \t/"):
			p.Addf("stacks: %q is not a stack name", name)
		case !filepath.IsAbs(dir):
			p.Addf("stacks.%s: %q is not an absolute directory", name, dir)
		}
	}
	cp := c.Capacity
	if cp.MemoryMB < 0 || cp.DiskMB < 0 || cp.Containers < 1 || cp.ReservedMemoryMB < 0 || cp.ReservedDiskMB < 0 {
		p.Addf("capacity: memory_mb, disk_mb and the reserves must not be negative, containers must be positive")
	}

	addEach(&p, "bbs", c.BBS.ClientConfig.Validate())
	if c.BBS.RequestTimeout <= 0 || c.BBS.Attempts < 1 {
		p.Addf("bbs: request_timeout must be positive and attempts at least 1")
	}
	addEach(&p, "registry", c.Registry.Validate())
	if c.Registry.NodeName != "" && c.Registry.NodeName != c.CellID {
		p.Addf("registry.node_name %q must be empty or the cell_id %q", c.Registry.NodeName, c.CellID)
	}

	for name, d := range map[string]time.Duration{
		"health_check.startup_interval": c.HealthCheck.StartupInterval, "health_check.liveness_interval": c.HealthCheck.LivenessInterval,
		"health_check.start_timeout": c.HealthCheck.StartTimeout, "grace_period": c.GracePeriod,
		"bulk_sync_interval": c.BulkSyncInterval, "metrics_interval": c.MetricsInterval,
		"evacuation.timeout": c.Evacuation.Timeout, "evacuation.poll_interval": c.Evacuation.PollInterval,
		"download.timeout": c.Download.Timeout,
	} {
		if d < 0 {
			p.Addf("%s %v is negative", name, d)
		}
	}
	if !filepath.IsAbs(c.Download.Dir) {
		p.Addf("download.dir %q is not an absolute directory", c.Download.Dir)
	}
	if c.Download.CacheMB < -1 || c.Download.MaxMB < 1 || c.MaxUploadMB < 1 {
		p.Addf("download.cache_mb must be -1 (no cache) or more, download.max_mb and max_upload_mb positive")
	}
	if c.LifecycleDir != "" && !filepath.IsAbs(c.LifecycleDir) {
		p.Addf("lifecycle_dir %q is not an absolute directory", c.LifecycleDir)
	}
	addEach(&p, "containerd", c.Containerd.Validate())
	return p.Err()
}

// StackNames returns the stacks' names, sorted.
func (c *Config) StackNames() []string {
	names := make([]string, 0, len(c.Stacks))
	for n := range c.Stacks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// addEach records each of the joined errors in err, prefixed with field.
func addEach(p *config.Problems, field string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			addEach(p, field, e)
		}
		return
	}
	p.Add(field, err)
}

func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// splitAdvertise splits "host" or "host:port" (port 0 when absent).
func splitAdvertise(s string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(s, ":") && net.ParseIP(s) == nil {
			return "", 0, fmt.Errorf("%q is not host or host:port", s)
		}
		host, portStr = s, "0"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has an invalid port", s)
	}
	if host == "" || unspecified(host) {
		return "", 0, fmt.Errorf("%q has no reachable host", s)
	}
	return host, port, nil
}

// advertise returns the rep_address for the bound listener address.
func (c *Config) advertise(bound net.Addr) string {
	_, boundPort, _ := net.SplitHostPort(bound.String())
	if c.AdvertiseAddress == "" {
		host, _, _ := net.SplitHostPort(c.RPC.Listen)
		return net.JoinHostPort(host, boundPort)
	}
	host, port, _ := splitAdvertise(c.AdvertiseAddress)
	if port == 0 {
		return net.JoinHostPort(host, boundPort)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
