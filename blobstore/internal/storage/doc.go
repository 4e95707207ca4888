// Package storage is the blobstore's storage seam: the types and the small
// role interfaces every backend implements, the errors the HTTP layer maps
// to status codes, and Ingest, the hashing copy every backend uses to take
// in content.
//
// A backend stores objects (bucket, key) → bytes plus their size, SHA-256
// and SHA-1, with these guarantees, which storagetest checks for any
// backend:
//
//   - Put is atomic: readers see the old object or the new one, never a
//     part; a failed or interrupted Put (digest mismatch, size limit, full
//     disk, client gone, crash) leaves nothing visible. Concurrent Puts to
//     one key resolve last-writer-wins.
//   - Digests are computed from the bytes actually stored, while they are
//     written; an expected digest that does not match fails the Put with
//     ErrDigestMismatch before anything is committed.
//   - Content is streamed: memory use does not grow with object size.
//   - List returns keys in byte order and pages with StartAfter.
//
// The local filesystem backend is localfs. An S3-compatible backend (for
// example with minio-go) implements the same interfaces: Put streams
// through Ingest into a multipart upload sent with x-amz-checksum-sha256
// (so S3 rejects a mismatch) and records the digests as user metadata;
// Open returns a reader over a ranged GetObject; Copy is CopyObject; List
// is ListObjectsV2 with StartAfter. See docs/blobstore.md.
package storage
