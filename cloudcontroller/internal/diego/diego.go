package diego

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Domain is the BBS domain of app LRPs.
const Domain = "cf-apps"

// Config is the cloud_controller's diego section.
type Config struct {
	// BBS is how to reach the BBS: addresses (every BBS; only the active
	// one listens) and the client's mutual TLS files. No address disables
	// the sync.
	BBS BBSConfig `yaml:"bbs"`
	// SyncInterval is the time between reconciler passes (default 30s).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// DomainTTL is how long a pass keeps cf-apps fresh (default 2m, more
	// than the interval so one slow pass does not let it lapse).
	DomainTTL time.Duration `yaml:"domain_ttl"`
	// DropletURLTTL is the lifetime of the signed droplet URL written into
	// an LRP. Cells download it whenever an instance starts, for as long
	// as the version is desired (default 8760h).
	DropletURLTTL time.Duration `yaml:"droplet_url_ttl"`
	// StatsTimeout bounds one /stats lookup (BBS and log-cache; default 5s).
	StatsTimeout time.Duration `yaml:"stats_timeout"`
}

// BBSConfig is the BBS client's configuration.
type BBSConfig struct {
	rpc.ClientConfig `yaml:",inline"`
	// RequestTimeout bounds one try of a call (default 10s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Attempts is how many tries a call gets while no BBS serves (default 3).
	Attempts int `yaml:"attempts"`
}

// Enabled reports whether a BBS is configured.
func (c *Config) Enabled() bool { return c.BBS.Address != "" || len(c.BBS.Addresses) > 0 }

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.SyncInterval <= 0 {
		c.SyncInterval = 30 * time.Second
	}
	if c.DomainTTL <= 0 {
		c.DomainTTL = 2 * time.Minute
	}
	if c.DropletURLTTL <= 0 {
		c.DropletURLTTL = 8760 * time.Hour
	}
	if c.StatsTimeout <= 0 {
		c.StatsTimeout = 5 * time.Second
	}
	if c.BBS.RequestTimeout <= 0 {
		c.BBS.RequestTimeout = 10 * time.Second
	}
	if c.BBS.Attempts <= 0 {
		c.BBS.Attempts = 3
	}
}

// Validate reports problems of an enabled configuration.
func (c *Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if err := c.BBS.Validate(); err != nil {
		return err
	}
	if c.DomainTTL < c.SyncInterval {
		return errors.New("domain_ttl must not be shorter than sync_interval")
	}
	return nil
}

// BBS is the subset of the BBS API the sync calls; the generated
// bbsv1.BBSServiceClient implements it.
type BBS interface {
	DesireLRP(ctx context.Context, in *bbsv1.DesireLRPRequest, opts ...grpc.CallOption) (*bbsv1.DesireLRPResponse, error)
	UpdateDesiredLRP(ctx context.Context, in *bbsv1.UpdateDesiredLRPRequest, opts ...grpc.CallOption) (*bbsv1.UpdateDesiredLRPResponse, error)
	RemoveDesiredLRP(ctx context.Context, in *bbsv1.RemoveDesiredLRPRequest, opts ...grpc.CallOption) (*bbsv1.RemoveDesiredLRPResponse, error)
	ListDesiredLRPSchedulingInfos(ctx context.Context, in *bbsv1.ListDesiredLRPSchedulingInfosRequest, opts ...grpc.CallOption) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error)
	ListActualLRPs(ctx context.Context, in *bbsv1.ListActualLRPsRequest, opts ...grpc.CallOption) (*bbsv1.ListActualLRPsResponse, error)
	RetireActualLRP(ctx context.Context, in *bbsv1.RetireActualLRPRequest, opts ...grpc.CallOption) (*bbsv1.RetireActualLRPResponse, error)
	UpsertDomain(ctx context.Context, in *bbsv1.UpsertDomainRequest, opts ...grpc.CallOption) (*bbsv1.UpsertDomainResponse, error)
	SubscribeToEvents(ctx context.Context, in *bbsv1.SubscribeToEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[bbsv1.SubscribeToEventsResponse], error)
}

// Droplets finds the current droplet of a process's app; *store.Store
// implements it (DropletForProcess, part of the droplets milestone). It
// returns an error wrapping store.ErrNotFound when the app has no staged
// current droplet.
type Droplets interface {
	DropletForProcess(ctx context.Context, processGUID string) (store.DropletDownload, error)
}

// URLSigner makes signed blobstore URLs; *blobclient.Client implements it.
// Droplets are fetched from the droplets bucket (apiblob.BucketDroplets).
type URLSigner interface {
	SignedURL(method, bucket, key string, ttl time.Duration) (string, error)
}

// TokenSource gives an access token with log-cache admin rights
// (cloud_controller.admin, logs.admin or doppler.firehose).
type TokenSource interface {
	AccessToken(ctx context.Context) (string, error)
}

// Deps are the Syncer's collaborators.
type Deps struct {
	Store    *store.Store
	BBS      BBS
	Droplets Droplets
	Signer   URLSigner
	// LogCacheURL is log-cache's base URL; "" reports no usage gauges.
	LogCacheURL string
	// Tokens authenticates log-cache reads; nil reads without a token.
	Tokens TokenSource
	// HTTP is the log-cache client (default: 5s timeout).
	HTTP *http.Client
	// ExternalURL is the API's URL (VCAP_APPLICATION's cf_api).
	ExternalURL string
	Logger      *slog.Logger
	Registry    prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AppLogs receives the API log lines of crashes; nil writes none.
	AppLogs AppLogger
}

// AppLogger writes a line into an app's log ([API/0], as CF's
// AppLogEmitter).
type AppLogger interface {
	AppLog(ctx context.Context, app, message string)
}

// Syncer implements the web package's Desirer and InstanceReporter and
// runs the reconciler and crash watcher.
type Syncer struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	metrics *metrics

	// mu guards index and loadedAt: the LRP process guids of each
	// process guid, as last listed and changed by this Syncer and by
	// BBS events.
	mu       sync.Mutex
	index    map[string]map[string]bool
	loadedAt time.Time

	locks [64]sync.Mutex // see lockProcess
}

// New returns a Syncer; cfg gets its defaults.
func New(cfg Config, deps Deps) *Syncer {
	cfg.Defaults()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Syncer{
		cfg: cfg, deps: deps, logger: deps.Logger.With("component", "diego_sync"),
		metrics: newMetrics(deps.Registry), index: map[string]map[string]bool{},
	}
}

// Run runs the reconciler and the event watcher until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watchEvents(ctx)
	}()
	s.reconcileLoop(ctx)
	wg.Wait()
	return nil
}

// Desirer returns s as the web package's Desirer, or nil for a nil s (no
// Diego configured), so that a nil *Syncer never becomes a non-nil
// interface.
func (s *Syncer) Desirer() web.Desirer {
	if s == nil {
		return nil
	}
	return s
}

// InstanceReporter returns s as the web package's InstanceReporter, or nil
// for a nil s.
func (s *Syncer) InstanceReporter() web.InstanceReporter {
	if s == nil {
		return nil
	}
	return s
}
