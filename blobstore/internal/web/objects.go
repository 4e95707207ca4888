package web

import (
	"errors"
	"net/http"
	"strings"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// put stores the request body: PUT /v1/buckets/{bucket}/objects/{key}.
func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	bucket, key, aerr := bucketKey(r)
	if aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	opts := storage.PutOptions{Size: r.ContentLength, MaxSize: h.opts.MaxObjectSize}
	if opts.Size > opts.MaxSize {
		h.writeError(w, r, newError(http.StatusRequestEntityTooLarge, apiblob.CodeTooLarge, "object of %d bytes is larger than the limit of %d", opts.Size, opts.MaxSize))
		return
	}
	if opts.SHA256, aerr = digestHeader(r, apiblob.HeaderSHA256, 32); aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	if opts.SHA1, aerr = digestHeader(r, apiblob.HeaderSHA1, 20); aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	if bucket == apiblob.BucketResources {
		// A cache entry's key is its content's SHA-1.
		sum := key[strings.LastIndexByte(key, '/')+1:]
		if !apiblob.ValidSHA1(sum) || apiblob.ResourceKey(sum) != key {
			h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "keys in %s are ab/cd/<sha1 of the content>", apiblob.BucketResources))
			return
		}
		want := opts.SHA1
		opts.SHA1 = sha1Bytes(sum)
		if want != nil && string(want) != string(opts.SHA1) {
			h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeDigestMismatch, "%s differs from the key", apiblob.HeaderSHA1))
			return
		}
	}
	switch v := r.Header.Get("If-None-Match"); v {
	case "":
	case "*":
		opts.IfNoneMatch = true
	default:
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "PUT supports only If-None-Match: *"))
		return
	}
	opts.IfMatch = r.Header.Get("If-Match")
	var n int64
	info, err := h.store.Put(r.Context(), bucket, key, h.body(w, r, &n), opts)
	h.metrics.received.WithLabelValues(bucket).Add(float64(n))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setDigestHeaders(w, info)
	writeJSON(w, http.StatusCreated, objectInfo(info))
}

// get serves an object, with Range, If-None-Match, If-Match,
// If-Modified-Since and HEAD handled by http.ServeContent.
func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	bucket, key, aerr := bucketKey(r)
	if aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	o, err := h.store.Open(r.Context(), bucket, key)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer o.Content.Close()
	setDigestHeaders(w, o.Info)
	w.Header().Set("Content-Type", "application/octet-stream")
	rw := w.(*responseWriter)
	before := rw.bytes
	http.ServeContent(w, r, "", o.Info.Modified, o.Content)
	if !rw.translating {
		h.metrics.sent.WithLabelValues(bucket).Add(float64(rw.bytes - before))
	}
}

// delete removes an object: 204, or 404.
func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	bucket, key, aerr := bucketKey(r)
	if aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	if err := h.store.Delete(r.Context(), bucket, key); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// copy is POST /v1/copy.
func (h *handler) copy(w http.ResponseWriter, r *http.Request) {
	var req apiblob.CopyRequest
	if aerr := decodeJSON(r.Body, apiblob.MaxCopyBodyBytes, &req); aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	for _, ref := range []apiblob.ObjectRef{req.Source, req.Destination} {
		if !apiblob.ValidBucket(ref.Bucket) {
			h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "no bucket %q", ref.Bucket))
			return
		}
		if err := apiblob.ValidateKey(ref.Key); err != nil {
			h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "%s", err.Error()))
			return
		}
	}
	if req.Destination.Bucket == apiblob.BucketResources {
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "the %s bucket is filled only by uploads checked against their SHA-1", apiblob.BucketResources))
		return
	}
	info, err := h.store.Copy(r.Context(),
		storage.Ref{Bucket: req.Source.Bucket, Key: req.Source.Key},
		storage.Ref{Bucket: req.Destination.Bucket, Key: req.Destination.Key})
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = newError(http.StatusNotFound, apiblob.CodeNotFound, "source %s/%s not found", req.Source.Bucket, req.Source.Key)
		}
		h.writeError(w, r, err)
		return
	}
	setDigestHeaders(w, info)
	writeJSON(w, http.StatusCreated, objectInfo(info))
}

// list is GET /v1/buckets/{bucket}/objects?prefix=&start_after=&limit=.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	bucket := r.PathValue("bucket")
	if !apiblob.ValidBucket(bucket) {
		h.writeError(w, r, newError(http.StatusNotFound, apiblob.CodeNotFound, "no bucket %q", bucket))
		return
	}
	q := r.URL.Query()
	prefix, after := q.Get(apiblob.ListPrefixParam), q.Get(apiblob.ListStartAfterParam)
	if err := apiblob.ValidatePrefix(prefix); err != nil {
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "prefix: %s", err.Error()))
		return
	}
	if len(after) > apiblob.MaxKeyLen {
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "start_after longer than %d bytes", apiblob.MaxKeyLen))
		return
	}
	limit := apiblob.DefaultListLimit
	if v := q.Get(apiblob.ListLimitParam); v != "" {
		n, err := parsePositive(v)
		if err != nil || n > apiblob.MaxListLimit {
			h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "limit must be 1 to %d", apiblob.MaxListLimit))
			return
		}
		limit = n
	}
	infos, err := h.store.List(r.Context(), bucket, storage.ListOptions{Prefix: prefix, StartAfter: after, Limit: limit})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	resp := apiblob.ListResponse{Objects: make([]apiblob.ObjectInfo, 0, len(infos))}
	for _, i := range infos {
		resp.Objects = append(resp.Objects, objectInfo(i))
	}
	if len(infos) == limit {
		resp.NextStartAfter = infos[len(infos)-1].Key
	}
	writeJSON(w, http.StatusOK, resp)
}
