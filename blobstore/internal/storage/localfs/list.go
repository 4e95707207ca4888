package localfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	apiblob "github.com/anvilpaas/anvil/api/blobstore"
	"github.com/anvilpaas/anvil/blobstore/internal/storage"
)

// List walks the bucket's directory tree in key order, skipping the
// subtrees that cannot hold keys after opts.StartAfter with opts.Prefix,
// so a page costs about its own size, not the bucket's.
func (s *Store) List(ctx context.Context, bucket string, opts storage.ListOptions) ([]storage.Info, error) {
	if !apiblob.ValidBucket(bucket) {
		return nil, fmt.Errorf("%w: unknown bucket %q", storage.ErrInvalidKey, bucket)
	}
	if err := apiblob.ValidatePrefix(opts.Prefix); err != nil {
		return nil, fmt.Errorf("%w: prefix: %w", storage.ErrInvalidKey, err)
	}
	if opts.Limit <= 0 {
		return nil, nil
	}
	l := &lister{s: s, ctx: ctx, bucket: bucket, opts: opts}
	// Start at the deepest directory the prefix names.
	start := ""
	if i := strings.LastIndexByte(opts.Prefix, '/'); i >= 0 {
		start = opts.Prefix[:i+1]
	}
	if err := l.walk(start); err != nil {
		return nil, fmt.Errorf("localfs: list %s: %w", bucket, err)
	}
	return l.out, nil
}

type lister struct {
	s      *Store
	ctx    context.Context
	bucket string
	opts   storage.ListOptions
	out    []storage.Info
}

// walk lists the directory of key prefix dir ("" or ending in "/").
func (l *lister) walk(dir string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	base := objectsDir + "/" + l.bucket + "/" + strings.TrimSuffix(dir, "/")
	d, err := l.s.root.Open(base)
	if err != nil {
		if notFound(err) {
			return nil
		}
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	// Directory "a" holds keys "a/…", so it sorts as "a/": then the walk
	// visits keys in byte order ("a.b" < "a/c" < "a0").
	sortName := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	p, after := l.opts.Prefix, l.opts.StartAfter
	for _, e := range entries {
		if len(l.out) >= l.opts.Limit {
			return nil
		}
		k := dir + sortName(e)
		switch {
		case e.IsDir():
			if !strings.HasPrefix(k, p) && !strings.HasPrefix(p, k) {
				continue // no key under k has the prefix
			}
			if k < after && !strings.HasPrefix(after, k) {
				continue // every key under k sorts before StartAfter
			}
			if err := l.walk(k); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if !strings.HasPrefix(k, p) || k <= after {
				continue
			}
			info, err := l.s.statName(objectsDir + "/" + l.bucket + "/" + k)
			if err != nil {
				if notFound(err) || isNotFound(err) {
					continue // deleted meanwhile
				}
				return err
			}
			info.Bucket, info.Key = l.bucket, k
			l.out = append(l.out, info)
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
