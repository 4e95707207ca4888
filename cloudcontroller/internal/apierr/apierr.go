// Package apierr is the Cloud Controller's error vocabulary: CF v3 error
// envelopes with CF's codes, titles and the exact detail texts the cf CLI
// matches on.
//
// Handlers return *Error values (or errors wrapping them); Write turns any
// error into the envelope
//
//	{"errors":[{"code":10010,"title":"CF-ResourceNotFound","detail":"App not found"}]}
//
// Errors that are not *Error become a 500 CF-ServerError whose detail hides
// the cause (the caller logs it).
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is one CF v3 API error.
type Error struct {
	Status int    `json:"-"`
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Title, e.Code, e.Detail) }

// Envelope is the body of every error response and of a failed job's
// errors.
type Envelope struct {
	Errors []*Error `json:"errors"`
}

// Codes and titles from Cloud Foundry's errors catalogue (vcap errors
// v2.yml), which the v3 API shares.
func newErr(status, code int, title, detail string) *Error {
	return &Error{Status: status, Code: code, Title: "CF-" + title, Detail: detail}
}

// New is an error of CF's catalogue that has no constructor here: status,
// code, title (without "CF-") and detail as CF's errors/v2.yml has them.
func New(status, code int, title, detail string) *Error { return newErr(status, code, title, detail) }

// InvalidAuthToken is a token that fails verification (401).
func InvalidAuthToken() *Error { return newErr(401, 1000, "InvalidAuthToken", "Invalid Auth Token") }

// MessageParseError is a body that is not valid JSON (400).
func MessageParseError(detail string) *Error {
	return newErr(400, 1001, "MessageParseError", "Request invalid due to parse error: "+detail)
}

// BadRequest is a generic 400.
func BadRequest(detail string) *Error { return newErr(400, 1004, "BadRequest", "Bad request: "+detail) }

// UnknownRequest is a path the API does not serve (404).
func UnknownRequest() *Error { return newErr(404, 10000, "NotFound", "Unknown request") }

// ServerError is an unexpected failure (500); the cause is logged, not
// shown.
func ServerError() *Error {
	return newErr(500, 10001, "ServerError", "An unknown error occurred.")
}

// NotAuthenticated is a request without a token (401).
func NotAuthenticated() *Error { return newErr(401, 10002, "NotAuthenticated", "Authentication error") }

// NotAuthorized is a caller without the needed role or scope (403).
func NotAuthorized() *Error {
	return newErr(403, 10003, "NotAuthorized", "You are not authorized to perform the requested action")
}

// InvalidRequest is a malformed request (400).
func InvalidRequest(detail string) *Error { return newErr(400, 10004, "InvalidRequest", detail) }

// BadQueryParameter is an invalid query parameter (400).
func BadQueryParameter(detail string) *Error {
	return newErr(400, 10005, "BadQueryParameter", "The query parameter is invalid: "+detail)
}

// Unprocessable is a well-formed request that cannot be applied (422). The
// cf CLI matches several of its detail texts (uniqueness, roles).
func Unprocessable(detail string) *Error {
	return newErr(422, 10008, "UnprocessableEntity", detail)
}

// NotFound is a resource that does not exist or that the caller may not
// see (404); resource is the capitalised singular name ("App", "Space").
// The cf CLI matches "<Resource> not found" exactly for several resources.
func NotFound(resource string) *Error {
	return newErr(404, 10010, "ResourceNotFound", resource+" not found")
}

// ServiceUnavailable is a dependency that is down (503).
func ServiceUnavailable(detail string) *Error {
	return newErr(503, 10015, "ServiceUnavailable", detail)
}

// RequestTooLarge is a body over the limit (413).
func RequestTooLarge() *Error {
	return newErr(413, 10004, "InvalidRequest", "Request body too large")
}

// AlreadyExists is CF's uniqueness failure: 422 with the given detail, e.g.
// "Organization 'o' already exists.".
func AlreadyExists(detail string) *Error { return Unprocessable(detail) }

// RoleExists is the duplicate-role failure; the cf CLI matches
// `User '.*' already has '.*' role.*`. kind is "organization" or "space".
func RoleExists(user, role, kind, name string) *Error {
	return Unprocessable(fmt.Sprintf("User '%s' already has '%s' role in %s '%s'.", user, role, kind, name))
}

// As returns the *Error in err's chain, or a ServerError.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return ServerError(), false
}

// Write writes err as a CF error envelope.
func Write(w http.ResponseWriter, err error) {
	e, _ := As(err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(Envelope{Errors: []*Error{e}})
}

// Uniqueness is CF's UniquenessError (422, code 10016), e.g. "App with the
// name 'x' already exists." (the cf CLI matches that text).
func Uniqueness(detail string) *Error { return newErr(422, 10016, "UniquenessError", detail) }
