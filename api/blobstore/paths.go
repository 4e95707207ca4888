package blobstore

import (
	"net/url"
	"strconv"
)

// Routes of the v1 API. Every path starts with PathPrefix.
const (
	PathPrefix = "/v1"
	// CopyPath is POST with a [CopyRequest]: a server-side copy.
	CopyPath = PathPrefix + "/copy"
	// MatchPath is POST with a [MatchRequest]: which resources the cache
	// holds.
	MatchPath = PathPrefix + "/resources/match"
)

// ObjectPath returns the path of one object: PUT, GET, HEAD and DELETE act
// on it, and signed URLs are signed over it.
func ObjectPath(bucket, key string) string {
	return PathPrefix + "/buckets/" + bucket + "/objects/" + key
}

// ListPath returns the path that lists a bucket (GET, with the query
// parameters [ListPrefixParam], [ListStartAfterParam], [ListLimitParam]).
func ListPath(bucket string) string {
	return PathPrefix + "/buckets/" + bucket + "/objects"
}

// ListQuery returns the query string of a list request.
func ListQuery(prefix, startAfter string, limit int) string {
	q := url.Values{}
	if prefix != "" {
		q.Set(ListPrefixParam, prefix)
	}
	if startAfter != "" {
		q.Set(ListStartAfterParam, startAfter)
	}
	if limit > 0 {
		q.Set(ListLimitParam, strconv.Itoa(limit))
	}
	return q.Encode()
}

// AssemblePath returns the path that assembles a package into
// packages/key: POST multipart/form-data with the part [PartResources]
// first and, unless every file was matched, the part [PartBits].
func AssemblePath(key string) string {
	return PathPrefix + "/assemble/packages/" + key
}
