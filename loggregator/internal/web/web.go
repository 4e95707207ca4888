// Package web is log-cache's HTTP API as the cf CLI and the go-log-cache
// client read it: GET /api/v1/info, GET /api/v1/read/{source_id} and
// GET /api/v1/meta, every response JSON. Reads and meta need a UAA bearer
// token; admins (doppler.firehose, logs.admin, cloud_controller.admin,
// cloud_controller.admin_read_only) see every source, other users the
// sources Cloud Controller says they can see (an app guid they may GET).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/go-log-cache/v2/rpc/logcache_v1"
	"code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/internal/tokenverify"
	"github.com/anvilpaas/anvil/loggregator/internal/store"
)

// Version is what GET /api/v1/info reports: a log-cache version at or
// above 2.0.0, so clients use the /api/v1 paths.
const Version = "3.0.0"

// maxSourceID bounds a source_id in a path.
const maxSourceID = 256

// maxMetaChecks bounds the Cloud Controller calls one non-admin meta
// request makes; sources beyond are left out.
const maxMetaChecks = 100

// Store is the envelope store the API reads.
type Store interface {
	Read(sourceID string, q store.Query) []*loggregator_v2.Envelope
	Meta() map[string]*logcache_v1.MetaInfo
}

// Verifier checks a UAA bearer token (tokenverify.Verifier).
type Verifier interface {
	Verify(ctx context.Context, rawToken string) (*uaa.Claims, error)
}

// Deps are the handler's collaborators.
type Deps struct {
	Store    Store
	Verifier Verifier
	Logger   *slog.Logger
	// Started is the process start, for vm_uptime.
	Started time.Time
	// ObserveRead, when set, is told each read's duration.
	ObserveRead func(time.Duration)
}

// New returns the API handler.
func New(cfg AuthConfig, deps Deps) http.Handler {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Started.IsZero() {
		deps.Started = time.Now()
	}
	h := &handler{deps: deps, auth: newAuthorizer(cfg)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/info", h.info)
	mux.HandleFunc("GET /api/v1/read/{source_id}", h.read)
	mux.HandleFunc("GET /api/v1/meta", h.meta)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return mux
}

// bufPool holds read response buffers; ones over maxPooledBuf are not
// kept.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledBuf = 4 << 20

type handler struct {
	deps Deps
	auth *authorizer
}

func (h *handler) info(w http.ResponseWriter, _ *http.Request) {
	uptime := int64(time.Since(h.deps.Started).Seconds())
	writeJSON(w, http.StatusOK, map[string]string{"version": Version, "vm_uptime": strconv.FormatInt(uptime, 10)})
}

// authenticate verifies the bearer token; on failure it has answered.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (*uaa.Claims, string, bool) {
	raw := r.Header.Get("Authorization")
	token := stripBearer(raw)
	if token == "" {
		writeError(w, http.StatusUnauthorized, "missing bearer token")
		return nil, "", false
	}
	claims, err := h.deps.Verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, tokenverify.ErrKeysUnavailable):
		h.deps.Logger.Warn("token keys unavailable", "err", err)
		writeError(w, http.StatusServiceUnavailable, "token keys unavailable")
		return nil, "", false
	case err != nil:
		writeError(w, http.StatusUnauthorized, "invalid token")
		return nil, "", false
	}
	return claims, token, true
}

func (h *handler) read(w http.ResponseWriter, r *http.Request) {
	begin := time.Now()
	sourceID := r.PathValue("source_id")
	if sourceID == "" || len(sourceID) > maxSourceID {
		writeError(w, http.StatusBadRequest, "source_id must be 1 to 256 bytes")
		return
	}
	claims, token, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	q, err := ParseRead(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	allowed, err := h.auth.canRead(r.Context(), claims, token, sourceID)
	if err != nil {
		h.deps.Logger.Warn("authorize read", "source_id", sourceID, "err", err)
		writeError(w, http.StatusBadGateway, "cannot check access with cloud controller")
		return
	}
	if !allowed {
		// As log-cache: a source the user may not see does not exist.
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	envs := h.deps.Store.Read(sourceID, q)
	buf := bufPool.Get().(*[]byte)
	*buf = appendReadResponse((*buf)[:0], envs)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	_, _ = w.Write(*buf)
	if cap(*buf) <= maxPooledBuf {
		bufPool.Put(buf)
	}
	if h.deps.ObserveRead != nil {
		h.deps.ObserveRead(time.Since(begin))
	}
}

func (h *handler) meta(w http.ResponseWriter, r *http.Request) {
	claims, token, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	meta := h.deps.Store.Meta()
	if !isAdmin(claims) {
		ids := make([]string, 0, len(meta))
		for id := range meta {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		visible := make(map[string]*logcache_v1.MetaInfo)
		for i, id := range ids {
			if i >= maxMetaChecks {
				break
			}
			allowed, err := h.auth.canRead(r.Context(), claims, token, id)
			if err != nil {
				h.deps.Logger.Warn("authorize meta", "err", err)
				writeError(w, http.StatusBadGateway, "cannot check access with cloud controller")
				return
			}
			if allowed {
				visible[id] = meta[id]
			}
		}
		meta = visible
	}
	writeProto(w, &logcache_v1.MetaResponse{Meta: meta}, h.deps.Logger)
}

func stripBearer(s string) string {
	const prefix = "bearer "
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return strings.TrimLeft(s[len(prefix):], " ")
	}
	return ""
}

func writeProto(w http.ResponseWriter, m proto.Message, logger *slog.Logger) {
	b, err := protojson.Marshal(m)
	if err != nil {
		logger.Error("marshal response", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
