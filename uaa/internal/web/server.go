// Package web serves the UAA's HTTP API: OAuth2 token issuance, the login
// info document the cf CLI reads, token keys, token checks, SCIM users and
// groups, and the clients API, all in Cloud Foundry UAA's wire formats.
//
// Handlers map store and verifier errors to UAA's error bodies here and
// nowhere else. Every request body is bounded (Options.MaxBodyBytes).
package web

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/uaa/internal/keys"
	"github.com/anvilpaas/anvil/uaa/internal/store"
)

// Version is the UAA version this server reports (app.version). The cf CLI
// gates --origin on ≥ 4.26.0.
const Version = "4.30.0"

// Options are the settings the handlers need.
type Options struct {
	URL                  string // base URL of the UAA
	LoginURL             string // base URL of the login server
	BcryptCost           int
	AccessTokenValidity  time.Duration
	RefreshTokenValidity time.Duration
	Lockout              Lockout
	MaxBodyBytes         int64
	// DefaultGroups are joined by every user created through SCIM.
	DefaultGroups []string
	// ClientCacheTTL is how long a client record read for a token stays
	// cached; 0 reads the database every time.
	ClientCacheTTL time.Duration
}

// Lockout is the failed-login policy.
type Lockout struct {
	AfterFailures int
	CountWithin   time.Duration
	Period        time.Duration
}

// Deps are the collaborators of the handlers.
type Deps struct {
	Store    *store.Store
	Keys     *keys.Set
	Verifier *tokenverify.Verifier
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the UAA's HTTP handler.
type Server struct {
	opts    Options
	store   *store.Store
	keys    *keys.Set
	verify  *tokenverify.Verifier
	logger  *slog.Logger
	now     func() time.Time
	secrets *secretCache
	clients *clientCache
	mux     *http.ServeMux
	// dummyHash is compared against when a user does not exist, so that
	// unknown and known users take the same time.
	dummyHash []byte
}

// New returns the handler.
func New(opts Options, deps Deps) (*Server, error) {
	s := &Server{
		opts: opts, store: deps.Store, keys: deps.Keys, verify: deps.Verifier,
		logger: deps.Logger, now: deps.Now, secrets: newSecretCache(), mux: http.NewServeMux(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.clients = newClientCache(opts.ClientCacheTTL, s.now)
	h, err := hashSecret("not a password", opts.BcryptCost)
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /login", s.handleLogin)
	m.HandleFunc("GET /info", s.handleLogin)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.HandleFunc("GET /token_keys", s.handleTokenKeys)
	m.HandleFunc("GET /token_key", s.handleTokenKey)
	m.HandleFunc("POST /oauth/token", s.handleToken)
	m.HandleFunc("POST /check_token", s.handleCheckToken)
	m.HandleFunc("POST /introspect", s.handleIntrospect)
	m.HandleFunc("GET /userinfo", s.handleUserInfo)
	m.HandleFunc("POST /userinfo", s.handleUserInfo)

	m.HandleFunc("GET /Users", s.handleListUsers)
	m.HandleFunc("POST /Users", s.handleCreateUser)
	m.HandleFunc("GET /Users/{id}", s.handleGetUser)
	m.HandleFunc("PUT /Users/{id}", s.handleUpdateUser)
	m.HandleFunc("DELETE /Users/{id}", s.handleDeleteUser)
	m.HandleFunc("PUT /Users/{id}/password", s.handleChangePassword)

	m.HandleFunc("GET /Groups", s.handleListGroups)
	m.HandleFunc("POST /Groups", s.handleCreateGroup)
	m.HandleFunc("GET /Groups/{id}", s.handleGetGroup)
	m.HandleFunc("PUT /Groups/{id}", s.handleUpdateGroup)
	m.HandleFunc("DELETE /Groups/{id}", s.handleDeleteGroup)
	m.HandleFunc("GET /Groups/{id}/members", s.handleListMembers)
	m.HandleFunc("POST /Groups/{id}/members", s.handleAddMember)
	m.HandleFunc("DELETE /Groups/{id}/members/{member}", s.handleRemoveMember)

	m.HandleFunc("GET /oauth/clients", s.handleListClients)
	m.HandleFunc("POST /oauth/clients", s.handleCreateClient)
	m.HandleFunc("GET /oauth/clients/{id}", s.handleGetClient)
	m.HandleFunc("PUT /oauth/clients/{id}", s.handleUpdateClient)
	m.HandleFunc("DELETE /oauth/clients/{id}", s.handleDeleteClient)
	m.HandleFunc("PUT /oauth/clients/{id}/secret", s.handleChangeClientSecret)
}

// ServeHTTP bounds the body, recovers panics into a 500 in UAA's shape and
// answers unknown paths with UAA's 404 body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, errorf(http.StatusInternalServerError, "server_error", "Internal Server Error"))
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(w, errorf(http.StatusNotFound, "not_found", "Not Found"))
		return
	}
	// The mux itself serves, so that it sets the path values.
	s.mux.ServeHTTP(w, r)
}

// internal logs err and writes a 500.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, errorf(http.StatusInternalServerError, "server_error", "Internal Server Error"))
}
