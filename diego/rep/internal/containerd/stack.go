package containerd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
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

func stackKey(name string) string { return stackPrefix + name }

// EnsureStack imports the root filesystem in dir as a committed, read-only
// overlayfs snapshot named after the stack, which every container on the
// stack shares as its lower layer. An existing stack of that name is kept
// as it is.
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
	key := stackKey(name)
	unlock := r.locks.lock(key)
	defer unlock()

	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Stat(ctx, key); err == nil {
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
	return nil
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
