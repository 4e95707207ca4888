package containerd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/continuity/fs"
	"github.com/containerd/errdefs"
)

const (
	// gcRootLabel keeps a committed snapshot that nothing references from
	// containerd's garbage collector.
	gcRootLabel = "containerd.io/gc.root"
	// stackPrefix starts the snapshot key of a stack, so that stacks and
	// containers (whose snapshot key is their id) never collide.
	stackPrefix      = "anvil.stack/"
	stackSourceLabel = labelPrefix + "stack-source"
)

// stackKey is the snapshot key of a stack: the one EnsureStack imported or
// found for it.
func (r *Runtime) stackKey(name string) string {
	if k, ok := r.stacks.Load(name); ok {
		return k.(string)
	}
	return stackPrefix + name
}

// importKey is the snapshot key of stack name imported from dir. The
// directory is part of it, so pointing a stack at another directory (a
// rebuilt stack lives under a new path) imports it afresh, while the
// containers already running keep the layer they were made from.
func importKey(name, dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return stackPrefix + name + "@" + hex.EncodeToString(sum[:6])
}

// EnsureStack imports the root filesystem in dir as a committed, read-only
// overlayfs snapshot, which every container on the stack shares as its
// lower layer. A stack already imported from the same directory is kept as
// it is; earlier imports of the stack from other directories are removed
// once no container uses them.
func (r *Runtime) EnsureStack(ctx context.Context, name, dir string) error {
	if r.base.Err() != nil {
		return ErrClosed
	}
	if name == "" {
		return errors.New("ensure stack: empty name")
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("ensure stack %s: %w", name, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("ensure stack %s: %s is not a directory", name, dir)
	}
	if err := r.setup(ctx); err != nil {
		return fmt.Errorf("ensure stack %s: %w", name, err)
	}
	ctx = r.ctx(ctx)
	key := importKey(name, dir)
	unlock := r.locks.lock(key)
	defer unlock()

	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Stat(ctx, key); err == nil {
		r.stacks.Store(name, key)
		r.removeOldStacks(ctx, name, key)
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("ensure stack %s: %w", name, err)
	}

	began := time.Now()
	// The lease keeps the half-imported snapshot from the garbage
	// collector; the committed one is kept by its gc.root label.
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return fmt.Errorf("ensure stack %s: lease: %w", name, err)
	}
	defer done(context.WithoutCancel(ctx))

	tmp := key + "-import-" + rand.Text()
	defer r.markBusy(tmp)()
	mounts, err := sn.Prepare(ctx, tmp, "")
	if err != nil {
		return fmt.Errorf("ensure stack %s: prepare: %w", name, err)
	}
	err = r.withMount(mounts, func(root string) error {
		return fs.CopyDir(root, dir)
	})
	if err == nil {
		err = sn.Commit(ctx, key, tmp, snapshots.WithLabels(map[string]string{
			gcRootLabel:      time.Now().UTC().Format(time.RFC3339),
			stackSourceLabel: dir,
		}))
		if errdefs.IsAlreadyExists(err) {
			err = nil // imported meanwhile by another rep process
		}
	}
	if err != nil {
		if rerr := sn.Remove(context.WithoutCancel(ctx), tmp); rerr != nil && !errdefs.IsNotFound(rerr) {
			r.log.Warn("remove half-imported stack", "key", tmp, "error", rerr)
		}
		return fmt.Errorf("ensure stack %s: import %s: %w", name, dir, err)
	}
	r.log.Info("imported stack", "stack", name, "dir", dir, "took", time.Since(began).Round(time.Millisecond))
	r.stacks.Store(name, key)
	r.removeOldStacks(ctx, name, key)
	return nil
}

// removeOldStacks removes the snapshots of stack name other than current
// (imports from other directories, or from before keys named the
// directory). One that containers still use cannot be removed yet; a later
// EnsureStack tries again.
func (r *Runtime) removeOldStacks(ctx context.Context, name, current string) {
	sn := r.client.SnapshotService(snapshotter)
	var old []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		k := info.Name
		if k != current && info.Kind == snapshots.KindCommitted &&
			(k == stackPrefix+name || strings.HasPrefix(k, stackPrefix+name+"@")) {
			old = append(old, k)
		}
		return nil
	})
	if err != nil {
		r.log.Warn("list old stack snapshots", "stack", name, "error", err)
		return
	}
	for _, k := range old {
		if err := sn.Remove(ctx, k); err != nil {
			r.log.Debug("old stack snapshot still in use", "key", k, "error", err)
			continue
		}
		r.log.Info("removed an old import of the stack", "stack", name, "key", k)
	}
}

// withMount mounts mounts on a fresh directory under the state dir's mnt/,
// runs f on it and unmounts. Cleanup unmounts what a crash leaves there.
func (r *Runtime) withMount(mounts []mount.Mount, f func(root string) error) (err error) {
	r.mntMu.RLock()
	defer r.mntMu.RUnlock()
	root, err := os.MkdirTemp(r.dirs.mnt(), "m")
	if err != nil {
		return err
	}
	if err := mount.All(mount.RemoveVolatileOption(mounts), root); err != nil {
		os.Remove(root)
		return fmt.Errorf("mount: %w", err)
	}
	defer func() {
		if uerr := mount.UnmountAll(root, 0); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unmount %s: %w", root, uerr))
			return // never remove a directory that may still be a mount
		}
		os.Remove(root)
	}()
	return f(root)
}
