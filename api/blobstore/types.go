package blobstore

import "time"

// Header names.
const (
	// HeaderSecret carries a shared secret: internal callers that do not
	// use mutual TLS send it on every request.
	HeaderSecret = "X-Blobstore-Secret"
	// HeaderSHA256 and HeaderSHA1 carry an object's digests in lowercase
	// hex. On PUT they are optional expectations: an upload whose content
	// does not match is rejected with [CodeDigestMismatch] and stored
	// nowhere. On responses they report the stored object's digests.
	HeaderSHA256 = "X-Blob-Sha256"
	HeaderSHA1   = "X-Blob-Sha1"
)

// List query parameters and bounds.
const (
	ListPrefixParam     = "prefix"
	ListStartAfterParam = "start_after"
	ListLimitParam      = "limit"
	// DefaultListLimit and MaxListLimit bound one page of a listing.
	DefaultListLimit = 1000
	MaxListLimit     = 1000
)

// Bounds of the resource-match and package-assembly requests.
const (
	// MaxMatchResources is the most resources one match request may ask
	// about; the cf CLI sends at most 5000 per request.
	MaxMatchResources = 5000
	// MaxMatchBodyBytes bounds a match request's JSON body.
	MaxMatchBodyBytes = 4 << 20
	// MaxAssembleResourcesBytes bounds the JSON of the resources part of an
	// assembly request.
	MaxAssembleResourcesBytes = 32 << 20
	// MaxCopyBodyBytes bounds a copy request's JSON body.
	MaxCopyBodyBytes = 16 << 10
)

// Multipart part names of an assembly request.
const (
	// PartResources is a JSON array of [Resource]: cached files to put into
	// the package, each with its path and mode.
	PartResources = "resources"
	// PartBits is the zip of the files that were not matched (absent when
	// every file was).
	PartBits = "bits"
)

// ObjectInfo describes a stored object. PUT, copy and assembly return it;
// listings return a page of them.
type ObjectInfo struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Size is the content length in bytes.
	Size int64 `json:"size"`
	// SHA256 and SHA1 are the content digests in lowercase hex. The ETag is
	// the SHA-256 hex in double quotes.
	SHA256 string `json:"sha256"`
	SHA1   string `json:"sha1"`
	// Modified is when this version was stored.
	Modified time.Time `json:"modified"`
}

// ListResponse is one page of a listing, in key order.
type ListResponse struct {
	Objects []ObjectInfo `json:"objects"`
	// NextStartAfter, when not empty, is the start_after of the next page.
	NextStartAfter string `json:"next_start_after,omitempty"`
}

// ObjectRef names an object.
type ObjectRef struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// CopyRequest is the body of POST [CopyPath]: copy Source to Destination
// (replacing it, last writer wins).
type CopyRequest struct {
	Source      ObjectRef `json:"source"`
	Destination ObjectRef `json:"destination"`
}

// Resource is one app file in CF resource matching: its SHA-1 (lowercase
// hex) and size, and, in assembly requests, where it goes in the package
// and its Unix mode as an octal string ("644", "0755"), as the cf CLI sends
// them.
type Resource struct {
	SHA1 string `json:"sha1"`
	Size int64  `json:"size"`
	Path string `json:"path,omitempty"`
	Mode string `json:"mode,omitempty"`
}

// MatchRequest is the body of POST [MatchPath], and its response holds the
// subset the cache has, in request order and echoed unchanged.
type MatchRequest struct {
	Resources []Resource `json:"resources"`
}

// Error is the body of every error response.
type Error struct {
	// Code is one of the Code constants.
	Code        string `json:"error"`
	Description string `json:"description"`
}

// Error codes, with the HTTP status each comes with.
const (
	CodeBadRequest          = "bad_request"           // 400
	CodeInvalidKey          = "invalid_key"           // 400
	CodeDigestMismatch      = "digest_mismatch"       // 400
	CodeInvalidPackage      = "invalid_package"       // 400: a bad zip or resource list
	CodeUnauthorized        = "unauthorized"          // 401: no credentials
	CodeForbidden           = "forbidden"             // 403: bad secret, certificate or signature
	CodeNotFound            = "not_found"             // 404
	CodeMethodNotAllowed    = "method_not_allowed"    // 405
	CodeConflict            = "conflict"              // 409: key clashes with a key prefix
	CodePreconditionFailed  = "precondition_failed"   // 412: If-Match / If-None-Match
	CodeTooLarge            = "too_large"             // 413
	CodeRangeNotSatisfiable = "range_not_satisfiable" // 416
	CodeResourceNotCached   = "resource_not_cached"   // 422: assembly names a resource the cache lacks
	CodeInsufficientStorage = "insufficient_storage"  // 507: disk full
	CodeInternal            = "internal"              // 500
	CodeUnavailable         = "unavailable"           // 503
)
