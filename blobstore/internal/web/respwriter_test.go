package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

func serve(h http.HandlerFunc, req *http.Request) (*httptest.ResponseRecorder, *responseWriter) {
	rec := httptest.NewRecorder()
	rw := newResponseWriter(rec)
	h(rw, req)
	rw.finish()
	return rec, rw
}

func decodeErr(t *testing.T, rec *httptest.ResponseRecorder) apiblob.Error {
	t.Helper()
	var e apiblob.Error
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("not a JSON error: %q %v (%s)", rec.Body, err, rec.Header().Get("Content-Type"))
	}
	return e
}

func TestTranslateServeContentErrors(t *testing.T) {
	t.Parallel()
	content := strings.NewReader("0123456789")
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Range", "bytes=50-60")
	rec, _ := serve(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, content)
	}, req)
	if rec.Code != 416 || rec.Header().Get("Content-Range") != "bytes */10" {
		t.Fatalf("status %d, Content-Range %q", rec.Code, rec.Header().Get("Content-Range"))
	}
	if e := decodeErr(t, rec); e.Code != apiblob.CodeRangeNotSatisfiable || !strings.Contains(e.Description, "range") {
		t.Errorf("error %+v", e)
	}

	req = httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("If-Match", `"nope"`)
	rec, _ = serve(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		http.ServeContent(w, r, "", time.Time{}, content)
	}, req)
	if e := decodeErr(t, rec); rec.Code != 412 || e.Code != apiblob.CodePreconditionFailed || e.Description == "" {
		t.Errorf("412: %d %+v", rec.Code, e)
	}
}

func TestTranslateMuxErrors(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /only-get", func(http.ResponseWriter, *http.Request) {})
	rec, _ := serve(mux.ServeHTTP, httptest.NewRequest("PUT", "/only-get", nil))
	if e := decodeErr(t, rec); rec.Code != 405 || e.Code != apiblob.CodeMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("405: %d %+v %v", rec.Code, e, rec.Header())
	}
	rec, _ = serve(mux.ServeHTTP, httptest.NewRequest("GET", "/nothing", nil))
	if e := decodeErr(t, rec); rec.Code != 404 || e.Code != apiblob.CodeNotFound {
		t.Errorf("404: %d %+v", rec.Code, e)
	}
}

func TestJSONErrorsPassThrough(t *testing.T) {
	t.Parallel()
	rec, rw := serve(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusConflict, apiblob.Error{Code: apiblob.CodeConflict, Description: "clash"})
	}, httptest.NewRequest("PUT", "/x", nil))
	if e := decodeErr(t, rec); rec.Code != 409 || e.Code != apiblob.CodeConflict || e.Description != "clash" || rw.translating {
		t.Errorf("%d %+v", rec.Code, e)
	}
}

func TestReadFromCounts(t *testing.T) {
	t.Parallel()
	_, rw := serve(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(strings.Repeat("x", 5000)))
	}, httptest.NewRequest("GET", "/x", nil))
	if rw.status != 200 || rw.bytes != 5000 {
		t.Errorf("status %d bytes %d", rw.status, rw.bytes)
	}
}

func TestToAPIError(t *testing.T) {
	t.Parallel()
	if ae := toAPIError(&bodyError{err: errTimeoutForTest{}}); ae.status != http.StatusBadRequest {
		t.Errorf("body error: %d", ae.status)
	}
	if ae := toAPIError(errTimeoutForTest{}); ae.status != http.StatusInternalServerError || ae.desc != "internal error" {
		t.Errorf("unknown error: %+v", ae)
	}
}

type errTimeoutForTest struct{}

func (errTimeoutForTest) Error() string { return "boom at /var/secret/path" }
