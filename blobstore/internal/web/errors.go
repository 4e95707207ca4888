package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/resources"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// errBody marks failures to read the request body.
var errBody = errors.New("request body")

// apiError is an error response.
type apiError struct {
	status int
	code   string
	desc   string
}

func (e *apiError) Error() string { return e.desc }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error from storage or resources to a response.
// Errors become status codes here and nowhere else.
func toAPIError(err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, storage.ErrInvalidKey):
		return &apiError{http.StatusBadRequest, apiblob.CodeInvalidKey, err.Error()}
	case errors.Is(err, storage.ErrNotFound):
		return &apiError{http.StatusNotFound, apiblob.CodeNotFound, "object not found"}
	case errors.Is(err, storage.ErrTooLarge), errors.Is(err, resources.ErrLimit), errors.As(err, &mbe):
		return &apiError{http.StatusRequestEntityTooLarge, apiblob.CodeTooLarge, err.Error()}
	case errors.Is(err, storage.ErrDigestMismatch):
		return &apiError{http.StatusBadRequest, apiblob.CodeDigestMismatch, err.Error()}
	case errors.Is(err, storage.ErrSizeMismatch):
		return &apiError{http.StatusBadRequest, apiblob.CodeBadRequest, err.Error()}
	case errors.Is(err, storage.ErrNoSpace):
		return &apiError{http.StatusInsufficientStorage, apiblob.CodeInsufficientStorage, "insufficient storage: the blobstore's disk is full; nothing was stored"}
	case errors.Is(err, storage.ErrPreconditionFailed):
		return &apiError{http.StatusPreconditionFailed, apiblob.CodePreconditionFailed, err.Error()}
	case errors.Is(err, storage.ErrConflict):
		return &apiError{http.StatusConflict, apiblob.CodeConflict, err.Error()}
	case errors.Is(err, resources.ErrInvalidRequest):
		return &apiError{http.StatusBadRequest, apiblob.CodeBadRequest, err.Error()}
	case errors.Is(err, resources.ErrInvalidPackage):
		return &apiError{http.StatusBadRequest, apiblob.CodeInvalidPackage, err.Error()}
	case errors.Is(err, resources.ErrResourceNotCached):
		return &apiError{http.StatusUnprocessableEntity, apiblob.CodeResourceNotCached, err.Error()}
	case errors.Is(err, os.ErrDeadlineExceeded) && errors.Is(err, errBody):
		return &apiError{http.StatusRequestTimeout, apiblob.CodeBadRequest, "request body stalled: " + err.Error()}
	case errors.Is(err, errBody):
		return &apiError{http.StatusBadRequest, apiblob.CodeBadRequest, err.Error()}
	case errors.Is(err, context.Canceled):
		return &apiError{http.StatusServiceUnavailable, apiblob.CodeUnavailable, "request cancelled"}
	}
	return &apiError{http.StatusInternalServerError, apiblob.CodeInternal, "internal error"}
}
