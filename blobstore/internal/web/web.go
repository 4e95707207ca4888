// Package web is the blobstore's HTTP API: routing, authentication, the
// object, list, copy, resource-match and assembly handlers, the mapping of
// errors to JSON error responses, and request metrics.
//
// Every response that is an error carries the JSON body
// {"error": code, "description": text}; responses written by
// http.ServeContent or the mux (416, 412, 404, 405) are translated on the
// way out. Paths that are not canonical ("..", ".", empty segments, also
// percent-encoded) are refused with 400 before routing, so the mux never
// redirects them elsewhere.
package web

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/resources"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// Options configure the API.
type Options struct {
	// MaxObjectSize bounds uploads.
	MaxObjectSize int64
	// SharedSecrets are accepted in the X-Blobstore-Secret header.
	SharedSecrets []string
	// ClientNames are the certificate common names (or DNS names) of
	// internal callers that use mutual TLS.
	ClientNames []string
	// SigningKeys verify signed URLs.
	SigningKeys []apiblob.Key
	// MaxSignedURLLifetime refuses signed URLs that expire later than this
	// from now.
	MaxSignedURLLifetime time.Duration
	// BodyIdleTimeout fails an upload whose body sends nothing for this
	// long.
	BodyIdleTimeout time.Duration
	// MaxPackageEntries bounds the resources of an assembly request.
	MaxPackageEntries int
	// MaxPackageSize bounds an assembly request's zip.
	MaxPackageSize int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Deps are the API's collaborators.
type Deps struct {
	Store     storage.Backend
	Resources *resources.Service
	Metrics   *Metrics
	Logger    *slog.Logger
}

type handler struct {
	opts    Options
	store   storage.Backend
	res     *resources.Service
	metrics *Metrics
	logger  *slog.Logger
	auth    *authenticator
	mux     *http.ServeMux
}

// New returns the API handler.
func New(opts Options, deps Deps) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &authenticator{keys: opts.SigningKeys, maxLifetime: opts.MaxSignedURLLifetime, now: opts.Now, clientNames: map[string]bool{}}
	for _, s := range opts.SharedSecrets {
		a.secrets = append(a.secrets, []byte(s))
	}
	for _, n := range opts.ClientNames {
		a.clientNames[n] = true
	}
	h := &handler{opts: opts, store: deps.Store, res: deps.Resources, metrics: deps.Metrics, logger: deps.Logger, auth: a, mux: http.NewServeMux()}
	const object = "/v1/buckets/{bucket}/objects/{key...}"
	h.route("PUT "+object, "put", true, h.put)
	h.route("GET "+object, "get", true, h.get) // and HEAD
	h.route("DELETE "+object, "delete", true, h.delete)
	h.route("GET /v1/buckets/{bucket}/objects", "list", false, h.list)
	h.route("POST "+apiblob.CopyPath, "copy", false, h.copy)
	h.route("POST "+apiblob.MatchPath, "match", false, h.match)
	h.route("POST /v1/assemble/packages/{key...}", "assemble", false, h.assemble)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := newResponseWriter(w)
	defer rw.finish()
	if p := r.URL.Path; p != path.Clean(p) || strings.HasSuffix(p, "/") && p != "/" {
		h.writeError(rw, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "path %q is not canonical (no '.', '..', empty segments or trailing slash)", p))
		return
	}
	h.mux.ServeHTTP(rw, r)
}

// route registers a handler with authentication and metrics. signedOK
// lets signed URLs reach it.
func (h *handler) route(pattern, op string, signedOK bool, fn func(w http.ResponseWriter, r *http.Request)) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := w.(*responseWriter)
		if err := h.auth.check(r, signedOK); err != nil {
			h.writeError(rw, r, err)
		} else {
			fn(rw, r)
		}
		opName := op
		if op == "get" && r.Method == http.MethodHead {
			opName = "head"
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		h.metrics.requests.WithLabelValues(opName, strconv.Itoa(status)).Inc()
		h.metrics.duration.WithLabelValues(opName).Observe(time.Since(start).Seconds())
		if status >= 400 {
			h.metrics.errors.WithLabelValues(opName, codeForStatus(status)).Inc()
		}
		h.logger.Debug("request", "op", opName, "method", r.Method, "path", r.URL.Path, "status", status,
			"bytes", rw.bytes, "duration", time.Since(start))
	})
}

// writeError writes err as a JSON error response and logs server errors.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.status >= 500 && ae.status != http.StatusInsufficientStorage && ae.status != http.StatusServiceUnavailable {
		h.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if ae.status == http.StatusInsufficientStorage {
		h.logger.Warn("disk full", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSONTo(w, ae.status, apiblob.Error{Code: ae.code, Description: ae.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) { writeJSONTo(w, status, v) }

func objectInfo(i storage.Info) apiblob.ObjectInfo {
	return apiblob.ObjectInfo{
		Bucket: i.Bucket, Key: i.Key, Size: i.Size,
		SHA256: i.SHA256Hex(), SHA1: i.SHA1Hex(), Modified: i.Modified.UTC(),
	}
}

func setDigestHeaders(w http.ResponseWriter, i storage.Info) {
	h := w.Header()
	h.Set("ETag", i.ETag())
	h.Set(apiblob.HeaderSHA256, i.SHA256Hex())
	h.Set(apiblob.HeaderSHA1, i.SHA1Hex())
}

// bucketKey reads and checks the bucket and key of an object route.
func bucketKey(r *http.Request) (string, string, *apiError) {
	bucket, key := r.PathValue("bucket"), r.PathValue("key")
	if !apiblob.ValidBucket(bucket) {
		return "", "", newError(http.StatusNotFound, apiblob.CodeNotFound, "no bucket %q (buckets: %s)", bucket, strings.Join(apiblob.Buckets(), ", "))
	}
	if err := apiblob.ValidateKey(key); err != nil {
		return "", "", newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "%s", err.Error())
	}
	return bucket, key, nil
}

// digestHeader parses an optional hex digest header of n bytes.
func digestHeader(r *http.Request, name string, n int) ([]byte, *apiError) {
	v := r.Header.Get(name)
	if v == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ToLower(v))
	if err != nil || len(b) != n {
		return nil, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "%s must be %d hex digits", name, 2*n)
	}
	return b, nil
}

// body wraps r.Body: reads fail after BodyIdleTimeout without data, errors
// are marked as the client's, and n counts the bytes.
func (h *handler) body(w http.ResponseWriter, r *http.Request, n *int64) io.Reader {
	return &idleBody{rc: http.NewResponseController(w), r: r.Body, timeout: h.opts.BodyIdleTimeout, n: n}
}

type idleBody struct {
	rc      *http.ResponseController
	r       io.Reader
	timeout time.Duration
	n       *int64
	// extended is when the deadline was last pushed out; it is pushed
	// again once a quarter of the timeout has passed, not on every read.
	extended time.Time
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.timeout > 0 {
		if now := time.Now(); now.Sub(b.extended) > b.timeout/4 {
			_ = b.rc.SetReadDeadline(now.Add(b.timeout)) // unsupported only by test recorders
			b.extended = now
		}
	}
	n, err := b.r.Read(p)
	*b.n += int64(n)
	if err != nil && err != io.EOF {
		return n, &bodyError{err}
	}
	return n, err
}

type bodyError struct{ err error }

func (e *bodyError) Error() string   { return "request body: " + e.err.Error() }
func (e *bodyError) Unwrap() []error { return []error{errBody, e.err} }

func decodeJSON(r io.Reader, limit int64, v any) *apiError {
	dec := json.NewDecoder(io.LimitReader(r, limit+1))
	if err := dec.Decode(v); err != nil {
		return newError(http.StatusBadRequest, apiblob.CodeBadRequest, "invalid JSON body: %v", err)
	}
	if dec.InputOffset() > limit {
		return newError(http.StatusRequestEntityTooLarge, apiblob.CodeTooLarge, "body larger than %d bytes", limit)
	}
	return nil
}
