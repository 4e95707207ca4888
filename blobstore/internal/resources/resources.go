package resources

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// Config bounds the cache and package assembly.
type Config struct {
	// MinSize and MaxSize are the sizes of files the cache holds and
	// matches, inclusive.
	MinSize int64
	MaxSize int64
	// MaxEntries bounds the entries of a package: zip entries plus cached
	// resources.
	MaxEntries int
	// MaxUncompressed bounds the uncompressed size of a package.
	MaxUncompressed int64
	// MaxPackageSize bounds the uploaded zip and the assembled package.
	MaxPackageSize int64
	// MaxConcurrent bounds the assemblies that run at once.
	MaxConcurrent int
	// ScratchDir holds uploaded zips while they are assembled (unlinked at
	// once, so a crash leaves nothing behind).
	ScratchDir string
}

// Store is what the cache and assembly need from storage.
type Store interface {
	storage.Reader
	storage.Writer
}

// Service answers match queries and assembles packages.
type Service struct {
	cfg    Config
	store  Store
	logger *slog.Logger
	slots  chan struct{}
}

// New returns a Service over store.
func New(cfg Config, store Store, logger *slog.Logger) *Service {
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1
	}
	return &Service{cfg: cfg, store: store, logger: logger, slots: make(chan struct{}, cfg.MaxConcurrent)}
}

// Cacheable reports whether files of size belong in the cache.
func (s *Service) Cacheable(size int64) bool {
	return size >= s.cfg.MinSize && size <= s.cfg.MaxSize
}

// Match returns the resources of rs that the cache holds with the same
// size, in order and unchanged. Sizes outside the cache's range never
// match. rs must have passed DecodeMatch.
func (s *Service) Match(ctx context.Context, rs []apiblob.Resource) ([]apiblob.Resource, error) {
	out := []apiblob.Resource{}
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !s.Cacheable(r.Size) {
			continue
		}
		info, err := s.store.Stat(ctx, apiblob.BucketResources, apiblob.ResourceKey(r.SHA1))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("match: %w", err)
		}
		if info.Size == r.Size && info.SHA1Hex() == r.SHA1 {
			out = append(out, r)
		}
	}
	return out, nil
}

// Spool copies an uploaded zip of at most s.cfg.MaxPackageSize bytes into
// an unlinked scratch file and returns it, positioned anywhere; the caller
// closes it.
func (s *Service) Spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(s.cfg.ScratchDir, "bits-*.zip")
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %w", noSpace(err))
	}
	os.Remove(f.Name()) // the open file lives on; a crash leaves nothing
	n, err := io.Copy(f, io.LimitReader(r, s.cfg.MaxPackageSize+1))
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("spool: %w", noSpace(err))
	}
	if n > s.cfg.MaxPackageSize {
		f.Close()
		return nil, 0, fmt.Errorf("spool: %w: the zip is larger than %d bytes", storage.ErrTooLarge, s.cfg.MaxPackageSize)
	}
	return f, n, nil
}

func noSpace(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && isNoSpace(pe.Err) {
		return fmt.Errorf("%w: %w", storage.ErrNoSpace, err)
	}
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", storage.ErrNoSpace, err)
	}
	return err
}

func sha1Bytes(hexsum string) []byte {
	b, _ := hex.DecodeString(hexsum)
	return b
}
