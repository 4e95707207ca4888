package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/anvilpaas/anvil/gorouter/internal/registry"
)

// Record is what the proxy knows of one finished request: the access log
// line, the RTR log envelope and the metrics are made from it.
type Record struct {
	// Start is when the router received the request.
	Start time.Time
	// Request is the client's request. Its body has been consumed.
	Request *http.Request
	// RequestID is the X-Vcap-Request-Id sent to the backend.
	RequestID string
	// Status is the status code written to the client (0 when nothing was
	// written, 101 for a protocol upgrade).
	Status int
	// BodyBytesReceived and BodyBytesSent count body bytes only.
	BodyBytesReceived int64
	BodyBytesSent     int64
	// Endpoint is the endpoint that answered, nil when none did.
	Endpoint *registry.Endpoint
	// RouterError is the X-Cf-Routererror value the router answered with,
	// or "".
	RouterError string
	// Duration is the time from Start until the response was written.
	Duration time.Duration
	// BackendTime is how long the endpoint took to send its response
	// headers; 0 when none answered.
	BackendTime time.Duration
}

// finish builds the request's Record and hands it to Deps.Done.
func (p *Proxy) finish(rw *recordingWriter, r *http.Request, body *countingBody, st *reqState) {
	rec := Record{
		Start:         st.start,
		Request:       r,
		RequestID:     st.requestID,
		Status:        rw.status,
		BodyBytesSent: rw.written,
		RouterError:   st.routerError,
		Duration:      time.Since(st.start),
	}
	if body != nil {
		rec.BodyBytesReceived = body.n.Load()
	}
	st.mu.Lock()
	rec.Endpoint = st.endpoint
	rec.BackendTime = st.backendTime
	st.mu.Unlock()
	p.done(&rec)
}

// recordingWriter notes the status and body size written to the client.
// Unwrap lets http.ResponseController reach the underlying writer's
// Flush and Hijack, which the reverse proxy uses for streaming and
// upgrades.
type recordingWriter struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 || (w.status >= 100 && w.status < 200 && w.status != http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Flush implements http.Flusher for callers that type-assert.
func (w *recordingWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read. The transport reads it
// on its own goroutine, which may outlive the response.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
