// Package blobstore is the contract between Anvil's blobstore daemon and its
// callers: the Cloud Controller, which has full access, and cells, which
// get signed URLs for one object each.
//
// It holds only names, types and small pure helpers, no I/O:
//
//   - Buckets: [BucketPackages], [BucketDroplets], [BucketBuildpacks],
//     [BucketBuildpackCache] and [BucketResources].
//   - Keys: [ValidateKey] is the key grammar both sides apply (segments of
//     [A-Za-z0-9._-] separated by "/", never "." or ".."), and
//     [ResourceKey] names a resource-cache entry by its SHA-1.
//   - Routes: [ObjectPath], [ListPath], [CopyPath], [MatchPath] and
//     [AssemblePath] build the HTTP paths of the API (see docs/blobstore.md
//     for the table).
//   - Signed URLs: [Sign] and [Verify] (HMAC-SHA256 over method, path,
//     expiry and key id).
//   - Wire types: [ObjectInfo], [ListResponse], [CopyRequest], [Resource],
//     [MatchRequest], [Error] and the error codes, header names and request
//     bounds.
//
// # Authentication
//
// Internal callers (the Cloud Controller) authenticate with a mutual-TLS
// client certificate whose name the blobstore allows, or with the
// [HeaderSecret] header holding one of the blobstore's shared secrets. Cells
// get signed URLs: the Cloud Controller mints one with [Sign] for one
// method, one object path and a short lifetime, and the blobstore checks it
// with [Verify]. A signed URL reaches only the object routes (GET, HEAD,
// PUT, DELETE of one object). A URL signed for GET also serves HEAD.
//
// # Signed URL scheme, version 1
//
// The query parameters are
//
//	expires=<unix seconds>&kid=<key id>&sig=<base64url(HMAC-SHA256(secret, string-to-sign))>
//
// with the string to sign
//
//	"anvil-blobstore-v1\n" + METHOD + "\n" + path + "\n" + expires + "\n" + kid
//
// where path is the request path exactly as [ObjectPath] returns it. The key
// id lets the signing secret rotate: the blobstore holds several keys and
// accepts any of them, the Cloud Controller signs with one. To rotate, add
// the new key to the blobstore, switch the Cloud Controller to it, and
// remove the old key once the longest-lived URL it signed has expired.
//
// # Compatibility
//
// This contract only grows. Routes are added under /v1 (a change of meaning
// gets a new route revision, /v2/...), JSON fields are added and never
// renamed, retyped or removed, and readers ignore fields they do not know.
// A new signing scheme gets a new string-to-sign prefix and a new query
// parameter, and the blobstore keeps accepting the old one for a release.
//
// History:
//
//   - v1: buckets, key grammar, object/list/copy/match/assemble routes,
//     signed URL scheme "anvil-blobstore-v1", shared-secret header, ETag =
//     quoted SHA-256 hex, digest headers X-Blob-Sha256 and X-Blob-Sha1.
package blobstore
