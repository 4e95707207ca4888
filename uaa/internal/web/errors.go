package web

import (
	"encoding/json"
	"errors"
	"net/http"
)

// oauthError is the error body of UAA's OAuth2 and SCIM endpoints:
// {"error":"invalid_grant","error_description":"…"}.
type oauthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
	// Message repeats the description on SCIM errors, as UAA does.
	Message string `json:"message,omitempty"`
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string `json:"-"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errorf(status int, code, description string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: description}
}

// Errors the token endpoint returns, with UAA's codes and statuses.
func errBadClientCredentials() *oauthError {
	e := errorf(http.StatusUnauthorized, "unauthorized", "Bad credentials")
	e.Challenge = `Basic realm="UAA/client", error="unauthorized", error_description="Bad credentials"`
	return e
}

func errBadUserCredentials() *oauthError {
	e := errorf(http.StatusUnauthorized, "unauthorized", "Bad credentials")
	e.Challenge = `Bearer realm="UAA/oauth", error="unauthorized", error_description="Bad credentials"`
	return e
}

func errInvalidToken(desc string) *oauthError {
	e := errorf(http.StatusUnauthorized, "invalid_token", desc)
	e.Challenge = `Bearer realm="UAA/oauth", error="invalid_token", error_description="` + desc + `"`
	return e
}

func errInsufficientScope(desc string) *oauthError {
	e := errorf(http.StatusForbidden, "insufficient_scope", desc)
	e.Challenge = `Bearer realm="UAA/oauth", error="insufficient_scope", error_description="` + desc + `"`
	return e
}

// scimError is a SCIM endpoint error: the description is repeated as
// message.
func scimError(status int, code, description string) *oauthError {
	e := errorf(status, code, description)
	e.Message = description
	return e
}

// writeError writes err in UAA's error shape. Errors that are not
// *oauthError become a 500 without details (they are logged by the caller).
func writeError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = errorf(http.StatusInternalServerError, "server_error", "Internal Server Error")
	}
	if oe.Challenge != "" {
		w.Header().Set("WWW-Authenticate", oe.Challenge)
	}
	writeJSON(w, oe.Status, oe)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
