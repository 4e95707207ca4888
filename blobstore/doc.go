// Package blobstore is the blobstore daemon: it stores every large object
// of the platform (app packages, droplets, buildpacks, build-artifact
// caches and the resource cache of CF resource matching) and serves them
// over HTTP to the Cloud Controller and, through signed URLs, to cells.
//
// The wire contract (buckets, key grammar, routes, signed URLs, JSON
// types) is api/blobstore; docs/blobstore.md describes the API and the
// configuration.
//
// Lifecycle: New checks the config and loads the TLS material; Run starts
// the ops listener, then opens the storage (taking its lock and removing
// the temp files of uploads a crashed run left), binds the API listener and
// closes Ready. When ctx is cancelled, /readyz turns 503, the API shuts
// down within shutdown_timeout (uploads still running are cut off and
// leave nothing), the storage is closed and Run returns nil.
//
// Layout: internal/storage is the backend seam (role interfaces, errors,
// the hashing copy) with internal/storage/localfs the filesystem backend
// and internal/storage/storagetest its conformance suite;
// internal/resources is resource matching and package assembly;
// internal/web is the HTTP API.
//
// Invariants:
//
//   - An object is visible only complete, with digests that match its
//     bytes: content goes to a temp file, is hashed while written, checked
//     against any expected digest, fsynced and renamed into place.
//   - Memory does not grow with object size: uploads, downloads (sendfile),
//     copies and package assembly all stream.
//   - Every byte of untrusted input is bounded before it is parsed: keys
//     and paths by the key grammar, JSON bodies by size and count, zips by
//     their central directory, entry count and uncompressed size.
package blobstore
