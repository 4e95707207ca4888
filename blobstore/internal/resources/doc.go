// Package resources is the blobstore's side of Cloud Foundry resource
// matching: the resource cache (app files stored by SHA-1 in the resources
// bucket), the match query, and package assembly.
//
// A cf push sends the SHA-1 and size of every non-empty file; the Cloud
// Controller asks Match which of them the cache holds, the CLI then uploads
// a zip of only the other files, and Assemble builds the full package from
// that zip plus the cached files, storing it under packages/<key>. Files of
// the upload whose size is within [Config.MinSize, Config.MaxSize] are
// added to the cache on the way, so the next push of the same files
// uploads nothing. The defaults follow CF's resource_pool: 64 KiB to 512
// MiB; smaller files are cheaper to upload again than to match and cache.
//
// The zip is untrusted. Before anything is written, Assemble checks:
//
//   - the central directory: at most Config.MaxEntries records and
//     MaxDirectoryBytes bytes, counted without loading it (archive/zip
//     would otherwise allocate for every record it finds);
//   - every path (zip entries and resources): relative, clean, valid
//     UTF-8, no "..", no backslash or NUL, at most 4096 bytes;
//   - no duplicate paths, and nothing below a file or symlink;
//   - entry types: files, directories and symlinks only; symlinks are
//     resolved through the package's own symlinks and must stay inside it;
//   - compression: stored or deflated only; the declared uncompressed sizes
//     of all entries and resources together at most
//     Config.MaxUncompressed, and every entry is read through a limit and
//     its CRC-32 checked, so a lying header fails the request.
//
// The package is written as a stream (zip writer → pipe → storage Put), so
// memory does not grow with its size. Entries from the upload are copied
// in their compressed form once verified; cached files are deflated at the
// fastest level. Entries are sorted by path; modes are reduced to the
// permission bits (files default to 0644, directories are 0755).
//
// Concurrency: at most Config.MaxConcurrent assemblies run at once; more
// wait for a slot or for their context to end.
package resources
