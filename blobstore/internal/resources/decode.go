package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
)

// DecodeMatch reads a match request ([apiblob.MatchRequest]) of at most
// apiblob.MaxMatchBodyBytes and apiblob.MaxMatchResources entries, and
// checks every SHA-1 and size. Unknown fields are ignored.
func DecodeMatch(r io.Reader) ([]apiblob.Resource, error) {
	var req apiblob.MatchRequest
	if err := decodeJSON(r, apiblob.MaxMatchBodyBytes, &req); err != nil {
		return nil, err
	}
	if len(req.Resources) > apiblob.MaxMatchResources {
		return nil, fmt.Errorf("%w: %d resources, at most %d per request", ErrLimit, len(req.Resources), apiblob.MaxMatchResources)
	}
	for i, res := range req.Resources {
		if err := checkDigest(res); err != nil {
			return nil, fmt.Errorf("%w: resources[%d]: %w", ErrInvalidRequest, i, err)
		}
	}
	return req.Resources, nil
}

// DecodeAssembly reads the resources part of an assembly request: a JSON
// array of [apiblob.Resource] of at most apiblob.MaxAssembleResourcesBytes
// and maxCount entries, each with a valid SHA-1, size, path and mode.
func DecodeAssembly(r io.Reader, maxCount int) ([]apiblob.Resource, error) {
	var rs []apiblob.Resource
	if err := decodeJSON(r, apiblob.MaxAssembleResourcesBytes, &rs); err != nil {
		return nil, err
	}
	if len(rs) > maxCount {
		return nil, fmt.Errorf("%w: %d resources, at most %d", ErrLimit, len(rs), maxCount)
	}
	for i, res := range rs {
		if err := checkDigest(res); err != nil {
			return nil, fmt.Errorf("%w: resources[%d]: %w", ErrInvalidRequest, i, err)
		}
		if p, err := cleanPath(res.Path); err != nil {
			return nil, fmt.Errorf("%w: resources[%d]: %w", ErrInvalidRequest, i, err)
		} else if p != res.Path {
			return nil, fmt.Errorf("%w: resources[%d]: path %q names a directory; resources are files", ErrInvalidRequest, i, truncate(res.Path))
		}
		if _, err := ParseMode(res.Mode); err != nil {
			return nil, fmt.Errorf("%w: resources[%d]: %w", ErrInvalidRequest, i, err)
		}
	}
	return rs, nil
}

// decodeJSON decodes one JSON value of at most limit bytes from r into v
// and requires nothing but white space after it.
func decodeJSON(r io.Reader, limit int64, v any) error {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	dec := json.NewDecoder(lr)
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON value")
		}
	}
	if lr.N <= 0 {
		return fmt.Errorf("%w: body larger than %d bytes", ErrLimit, limit)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

func checkDigest(r apiblob.Resource) error {
	if !apiblob.ValidSHA1(r.SHA1) {
		return fmt.Errorf("sha1 %q is not 40 lowercase hex digits", truncate(r.SHA1))
	}
	if r.Size < 0 {
		return fmt.Errorf("size %d is negative", r.Size)
	}
	return nil
}

// ParseMode parses a mode as the cf CLI sends it, an octal string such as
// "644" or "100755", and returns its permission bits. Empty means 0644.
func ParseMode(s string) (fs.FileMode, error) {
	if s == "" {
		return 0o644, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || len(s) > 11 {
		return 0, fmt.Errorf("mode %q is not an octal number", truncate(s))
	}
	perm := fs.FileMode(v) & fs.ModePerm
	if perm == 0 {
		perm = 0o644
	}
	return perm, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
