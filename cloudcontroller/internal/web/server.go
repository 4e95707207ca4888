// Package web serves the Cloud Controller's v3 API: CF's paths, JSON
// shapes, status codes, error envelopes and filters, so that the
// unmodified cf CLI and scripts written for CF work.
//
// Every handler has the shape func(w, r, *Actor) error: it writes a
// success response itself and returns an error (an *apierr.Error, or any
// error for a 500) otherwise. The wrapper authenticates, bounds the body,
// assigns a request id, logs, recovers panics and writes error envelopes.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/apierr"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/blobclient"
	"github.com/anvilpaas/anvil/internal/tokenverify"
)

// APIVersion is the v3 API version advertised at GET /. It is below
// 3.211.0, so `cf apps` asks /stats per process rather than
// embed=process_instances.
const APIVersion = "3.180.0"

// Options are the settings handlers need.
type Options struct {
	// ExternalURL is the API's base URL as clients reach it; every href is
	// built from it.
	ExternalURL string
	UAAURL      string
	LoginURL    string
	LogCacheURL string
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// DefaultAppMemoryMB and DefaultAppDiskMB are a new process's memory
	// and disk (CF's default_app_memory, default_app_disk_in_mb; 1024 if
	// zero). A quota's per-process memory limit lowers the memory default.
	DefaultAppMemoryMB int
	DefaultAppDiskMB   int
	// Packages bounds package uploads (packages.go).
	Packages PackageOptions
	// Staging configures builds on Diego (staging.go).
	Staging StagingOptions
}

// Deps are the handlers' collaborators.
type Deps struct {
	Store    *store.Store
	Verifier *tokenverify.Verifier
	// Users looks users up in UAA by name; nil disables lookups.
	Users    UserDirectory
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Desirer keeps Diego in step with started processes; nil until the
	// Diego sync exists (see diego.go).
	Desirer Desirer
	// Instances reports actual instances for /stats; nil shows the
	// desired instances as STARTING (started apps) or DOWN.
	Instances InstanceReporter
	// Blobs is the blobstore (packages, droplets, buildpacks, caches);
	// nil answers package uploads and builds with 503.
	Blobs *blobclient.Client
	// Tasks desires staging tasks and app tasks on Diego; nil answers
	// builds and task creation with 503.
	Tasks TaskDesirer
	// Logs receives the [API/0] lines written to apps' logs (applogs.go);
	// nil writes none.
	Logs LogSink
}

// UserDirectory finds UAA users (cf set-space-role by username,
// POST /v3/users by guid).
type UserDirectory interface {
	// LookupUser returns the UAA id and origin of username (origin "" =
	// any), or found=false.
	LookupUser(ctx context.Context, username, origin string) (guid, foundOrigin string, found bool, err error)
	// UserByID returns the username and origin of a UAA user id.
	UserByID(ctx context.Context, guid string) (username, origin string, found bool, err error)
}

// Server is the v3 API handler.
type Server struct {
	opts    Options
	store   *store.Store
	verify  *tokenverify.Verifier
	users   UserDirectory
	logger  *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	jobs    *jobQueue
	known   knownUsers

	desirer   Desirer
	instances InstanceReporter

	blobs  *blobclient.Client
	tasks  TaskDesirer
	applog *APILogger
	// bodyLimits raises the body bound of some route patterns (uploads).
	bodyLimits map[string]int64
	// buildpackTarballs caches the blob of each system buildpack zip.
	buildpackTarballs buildpackCache
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, a *Actor) error

// New returns the API handler.
func New(opts Options, deps Deps) *Server {
	s := &Server{
		opts: opts, store: deps.Store, verify: deps.Verifier, users: deps.Users, logger: deps.Logger,
		mux: http.NewServeMux(), metrics: newMetrics(deps.Registry), jobs: newJobQueue(),
		desirer: deps.Desirer, instances: deps.Instances,
		blobs: deps.Blobs, tasks: deps.Tasks, bodyLimits: map[string]int64{},
	}
	if deps.Logs != nil {
		s.applog = NewAPILogger(deps.Store, deps.Logs, deps.Logger)
	}
	if s.opts.DefaultAppMemoryMB <= 0 {
		s.opts.DefaultAppMemoryMB = 1024
	}
	if s.opts.DefaultAppDiskMB <= 0 {
		s.opts.DefaultAppDiskMB = 1024
	}
	s.opts.ExternalURL = strings.TrimSuffix(s.opts.ExternalURL, "/")
	s.opts.Packages.defaults()
	s.opts.Staging.defaults(s.opts.ExternalURL)
	s.routes()
	s.registerJobOps()
	s.registerAppJobOps()
	return s
}

func (s *Server) routes() {
	s.public("GET /{$}", s.root)
	s.public("GET /v3", s.v3Root)
	s.public("GET /v3/{$}", s.v3Root)
	s.public("GET /v3/info", s.info)

	s.registerOrgs()
	s.registerSpaces()
	s.registerUsers()
	s.registerRoles()
	s.registerJobs()
	s.registerEmptyLists()
	s.registerFeatureFlags()
	s.registerOrgQuotas()
	s.registerSpaceQuotas()
	s.registerAuditEvents()
	s.registerStacks()
	s.registerIsolationSegments()
	s.registerDomains()
	s.registerRoutes()
	s.registerApps()
	s.registerAppEnv()
	s.registerProcesses()
	s.registerManifests()
	s.registerPackages()
	s.registerResourceMatches()
	s.registerBuilds()
	s.registerDroplets()
	s.registerStaging()
	s.registerTasks()
	s.registerUsageEvents()
	s.registerBuildpacks()
	s.registerEnvGroups()
	s.registerDeployments()
}

// public registers a handler that needs no token.
func (s *Server) public(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.wrap(pattern, false, h))
}

// authed registers a handler that needs a valid token.
func (s *Server) authed(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.wrap(pattern, true, h))
}

func (s *Server) wrap(pattern string, auth bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a *Actor
		if auth {
			var err error
			if a, err = s.authenticate(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := h(w, r, a); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP adds the request id, body limit, logging, metrics and panic
// recovery around the mux; unknown paths get CF's 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Vcap-Request-Id")
	if id == "" || len(id) > 128 {
		id = newRequestID()
	}
	w.Header().Set("X-Vcap-Request-Id", id)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	_, pattern := s.mux.Handler(r)
	limit := s.opts.MaxBodyBytes
	if l, ok := s.bodyLimits[pattern]; ok {
		limit = l
	}
	r.Body = http.MaxBytesReader(rec, r.Body, limit)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.Error("panic in handler", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if !rec.wrote {
				apierr.Write(rec, apierr.ServerError())
			}
		}
		d := time.Since(start)
		s.metrics.observe(pattern, r.Method, rec.status, d)
		s.logger.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration_ms", d.Milliseconds())
	}()
	if pattern == "" {
		apierr.Write(rec, apierr.UnknownRequest())
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := apierr.As(err); !ok {
		s.logger.Error("request failed", "request_id", w.Header().Get("X-Vcap-Request-Id"), "method", r.Method, "path", r.URL.Path, "err", err)
	}
	apierr.Write(w, err)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// url returns the absolute URL of an API path.
func (s *Server) url(path string) string { return s.opts.ExternalURL + path }
