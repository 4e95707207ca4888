package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

// responseWriter records the status and body bytes of a response, and
// turns error responses that are not already JSON (from http.ServeContent,
// the mux's 404 and 405) into the API's JSON error body. It passes
// ReadFrom through, so file downloads keep using sendfile.
type responseWriter struct {
	w      http.ResponseWriter
	status int
	bytes  int64
	// translating: an error status was written without a JSON body; the
	// body is collected (up to 1 KiB) as the description and sent by
	// finish.
	translating bool
	desc        bytes.Buffer
}

func newResponseWriter(w http.ResponseWriter) *responseWriter { return &responseWriter{w: w} }

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.status != 0 {
		return
	}
	rw.status = code
	if code >= 400 && !strings.HasPrefix(rw.w.Header().Get("Content-Type"), "application/json") {
		rw.translating = true
		return
	}
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.translating {
		if room := 1024 - rw.desc.Len(); room > 0 {
			rw.desc.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	}
	n, err := rw.w.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// ReadFrom lets http.ServeContent hand an *os.File to the connection.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.translating {
		return io.Copy(writerOnly{rw}, r)
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(rw.w, r)
	}
	rw.bytes += n
	return n, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// finish sends a collected error as JSON.
func (rw *responseWriter) finish() {
	if !rw.translating {
		return
	}
	h := rw.w.Header()
	h.Del("Content-Length")
	h.Del("X-Content-Type-Options")
	desc := strings.TrimSpace(rw.desc.String())
	if desc == "" {
		desc = http.StatusText(rw.status)
	}
	writeJSONTo(rw.w, rw.status, apiblob.Error{Code: codeForStatus(rw.status), Description: desc})
}

type writerOnly struct{ io.Writer }

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return apiblob.CodeBadRequest
	case http.StatusUnauthorized:
		return apiblob.CodeUnauthorized
	case http.StatusForbidden:
		return apiblob.CodeForbidden
	case http.StatusNotFound:
		return apiblob.CodeNotFound
	case http.StatusMethodNotAllowed:
		return apiblob.CodeMethodNotAllowed
	case http.StatusConflict:
		return apiblob.CodeConflict
	case http.StatusPreconditionFailed:
		return apiblob.CodePreconditionFailed
	case http.StatusRequestEntityTooLarge:
		return apiblob.CodeTooLarge
	case http.StatusRequestedRangeNotSatisfiable:
		return apiblob.CodeRangeNotSatisfiable
	case http.StatusInsufficientStorage:
		return apiblob.CodeInsufficientStorage
	case http.StatusServiceUnavailable:
		return apiblob.CodeUnavailable
	}
	if status < 500 {
		return apiblob.CodeBadRequest
	}
	return apiblob.CodeInternal
}

func writeJSONTo(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal","description":"encoding the response failed"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
