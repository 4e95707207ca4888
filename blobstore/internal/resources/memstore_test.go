package resources

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// memStore is an in-memory Store for tests and fuzzing.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (m *memStore) info(bucket, key string, data []byte) storage.Info {
	d, _ := storage.Ingest(io.Discard, bytes.NewReader(data), -1)
	return storage.Info{Bucket: bucket, Key: key, Size: d.Size, SHA256: d.SHA256, SHA1: d.SHA1, Modified: time.Unix(1, 0)}
}

func (m *memStore) get(bucket, key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[bucket+"/"+key]
	return b, ok
}

func (m *memStore) Stat(_ context.Context, bucket, key string) (storage.Info, error) {
	b, ok := m.get(bucket, key)
	if !ok {
		return storage.Info{}, storage.ErrNotFound
	}
	return m.info(bucket, key, b), nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (m *memStore) Open(_ context.Context, bucket, key string) (*storage.Object, error) {
	b, ok := m.get(bucket, key)
	if !ok {
		return nil, storage.ErrNotFound
	}
	return &storage.Object{Info: m.info(bucket, key, b), Content: nopCloser{bytes.NewReader(b)}}, nil
}

func (m *memStore) Put(_ context.Context, bucket, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if err := apiblob.ValidateKey(key); err != nil {
		return storage.Info{}, fmt.Errorf("%w: %w", storage.ErrInvalidKey, err)
	}
	var buf bytes.Buffer
	d, err := storage.Ingest(&buf, r, opts.MaxSize)
	if err != nil {
		return storage.Info{}, err
	}
	if err := d.Check(opts); err != nil {
		return storage.Info{}, err
	}
	m.mu.Lock()
	m.objects[bucket+"/"+key] = buf.Bytes()
	m.puts++
	m.mu.Unlock()
	return m.info(bucket, key, buf.Bytes()), nil
}

func (m *memStore) Copy(ctx context.Context, src, dst storage.Ref) (storage.Info, error) {
	b, ok := m.get(src.Bucket, src.Key)
	if !ok {
		return storage.Info{}, storage.ErrNotFound
	}
	return m.Put(ctx, dst.Bucket, dst.Key, bytes.NewReader(b), storage.PutOptions{Size: -1, MaxSize: -1})
}

func (m *memStore) Delete(_ context.Context, bucket, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[bucket+"/"+key]; !ok {
		return storage.ErrNotFound
	}
	delete(m.objects, bucket+"/"+key)
	return nil
}
