package localfs

import (
	"context"
	"fmt"
	"os"

	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// objectFile is an open object file.
type objectFile struct {
	f    *os.File
	size int64
	st   os.FileInfo
}

func (o *objectFile) Close() error { return o.f.Close() }

// openObject opens name if it is a regular file.
func (s *Store) openObject(name string) (*objectFile, error) {
	f, err := s.root.Open(name)
	if err != nil {
		if notFound(err) {
			return nil, storage.ErrNotFound
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, storage.ErrNotFound // a key prefix, not an object
	}
	return &objectFile{f: f, size: st.Size(), st: st}, nil
}

// Stat returns an object's Info.
func (s *Store) Stat(_ context.Context, bucket, key string) (storage.Info, error) {
	name, err := objectName(bucket, key)
	if err != nil {
		return storage.Info{}, err
	}
	info, err := s.statName(name)
	if err != nil {
		return storage.Info{}, fmt.Errorf("localfs: stat %s: %w", name, err)
	}
	info.Bucket, info.Key = bucket, key
	return info, nil
}

func (s *Store) statName(name string) (storage.Info, error) {
	o, err := s.openObject(name)
	if err != nil {
		return storage.Info{}, err
	}
	defer o.Close()
	d, err := readMeta(o.f, o.size)
	if err != nil {
		return storage.Info{}, err
	}
	return storage.Info{Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1, Modified: o.st.ModTime()}, nil
}

// Open opens an object. Content is the *os.File.
func (s *Store) Open(_ context.Context, bucket, key string) (*storage.Object, error) {
	name, err := objectName(bucket, key)
	if err != nil {
		return nil, err
	}
	o, err := s.openObject(name)
	if err != nil {
		return nil, fmt.Errorf("localfs: open %s: %w", name, err)
	}
	d, err := readMeta(o.f, o.size)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("localfs: open %s: %w", name, err)
	}
	return &storage.Object{
		Info:    storage.Info{Bucket: bucket, Key: key, Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1, Modified: o.st.ModTime()},
		Content: o.f,
	}, nil
}
