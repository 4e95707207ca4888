package web

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/resources"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// match is POST /v1/resources/match.
func (h *handler) match(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > apiblob.MaxMatchBodyBytes {
		h.writeError(w, r, newError(http.StatusRequestEntityTooLarge, apiblob.CodeTooLarge, "body larger than %d bytes", apiblob.MaxMatchBodyBytes))
		return
	}
	var n int64
	rs, err := resources.DecodeMatch(h.body(w, r, &n))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hits, err := h.res.Match(r.Context(), rs)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.metrics.matches.WithLabelValues("hit").Add(float64(len(hits)))
	h.metrics.matches.WithLabelValues("miss").Add(float64(len(rs) - len(hits)))
	writeJSON(w, http.StatusOK, apiblob.MatchRequest{Resources: hits})
}

// assemble is POST /v1/assemble/packages/{key}: multipart with the
// resources part and, unless every file matched, the bits part.
func (h *handler) assemble(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := apiblob.ValidateKey(key); err != nil {
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeInvalidKey, "%s", err.Error()))
		return
	}
	if limit := h.opts.MaxPackageSize + apiblob.MaxAssembleResourcesBytes + 1<<20; r.ContentLength > limit {
		h.writeError(w, r, newError(http.StatusRequestEntityTooLarge, apiblob.CodeTooLarge, "request larger than %d bytes", limit))
		return
	}
	var n int64
	r.Body = io.NopCloser(h.body(w, r, &n))
	mr, err := r.MultipartReader()
	if err != nil {
		h.writeError(w, r, newError(http.StatusBadRequest, apiblob.CodeBadRequest, "want multipart/form-data: %v", err))
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != apiblob.PartResources {
		h.writeError(w, r, partError(err, "the first part must be %q", apiblob.PartResources))
		return
	}
	rs, err := resources.DecodeAssembly(part, h.opts.MaxPackageEntries)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var bits *bitsFile
	part, err = mr.NextPart()
	switch {
	case errors.Is(err, io.EOF):
	case err != nil || part.FormName() != apiblob.PartBits:
		h.writeError(w, r, partError(err, "the second part, if any, must be %q", apiblob.PartBits))
		return
	default:
		f, size, err := h.res.Spool(part)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		defer f.Close()
		bits = &bitsFile{f, size}
		if _, err := mr.NextPart(); !errors.Is(err, io.EOF) {
			h.writeError(w, r, partError(err, "unexpected part after %q", apiblob.PartBits))
			return
		}
	}
	h.metrics.received.WithLabelValues(apiblob.BucketPackages).Add(float64(n))
	var info storage.Info
	if bits != nil {
		info, err = h.res.Assemble(r.Context(), key, bits.f, bits.size, rs)
	} else {
		info, err = h.res.Assemble(r.Context(), key, nil, 0, rs)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setDigestHeaders(w, info)
	writeJSON(w, http.StatusCreated, objectInfo(info))
}

// bitsFile is a spooled upload.
type bitsFile struct {
	f    *os.File
	size int64
}

func partError(err error, format string, args ...any) error {
	if err != nil && !errors.Is(err, io.EOF) {
		var be *bodyError
		if errors.As(err, &be) {
			return err
		}
		return newError(http.StatusBadRequest, apiblob.CodeBadRequest, "multipart body: %v", err)
	}
	return newError(http.StatusBadRequest, apiblob.CodeBadRequest, format, args...)
}

func sha1Bytes(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

func parsePositive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errors.New("not a positive integer")
	}
	return n, nil
}
