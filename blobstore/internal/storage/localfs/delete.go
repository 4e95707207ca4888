package localfs

import (
	"context"
	"fmt"
	"path"

	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// Delete removes an object, then the directories above it that became
// empty (up to the bucket's).
func (s *Store) Delete(_ context.Context, bucket, key string) error {
	name, err := objectName(bucket, key)
	if err != nil {
		return err
	}
	mu := s.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	st, err := s.root.Lstat(name)
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("localfs: delete %s: %w", name, storage.ErrNotFound)
		}
		return fmt.Errorf("localfs: delete %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("localfs: delete %s: %w", name, storage.ErrNotFound)
	}
	if err := s.root.Remove(name); err != nil {
		if notFound(err) {
			return fmt.Errorf("localfs: delete %s: %w", name, storage.ErrNotFound)
		}
		return fmt.Errorf("localfs: delete %s: %w", name, err)
	}
	bucketDir := objectsDir + "/" + bucket
	dir := path.Dir(name)
	if err := s.syncDir(dir); err != nil {
		return fmt.Errorf("localfs: delete %s: fsync: %w", name, err)
	}
	for ; dir != bucketDir && len(dir) > len(bucketDir); dir = path.Dir(dir) {
		if s.root.Remove(dir) != nil {
			break // not empty (or already gone): stop
		}
	}
	return nil
}
