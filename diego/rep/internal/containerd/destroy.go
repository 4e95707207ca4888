package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	apitasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// processExitTimeout bounds how long Destroy waits for the processes it
// tracks to report their exit after the kill.
const processExitTimeout = 5 * time.Second

// Destroy kills every process of the container (SIGKILL: the rep gives
// the grace period itself, through Process.Signal), deletes its task,
// container and writable layer, tears its network down and frees its host
// ports. A container that does not exist is not an error, and what a
// failed Destroy left is removed by the next one (or by Cleanup).
func (r *Runtime) Destroy(ctx context.Context, containerID string) error {
	if r.base.Err() != nil {
		return ErrClosed
	}
	if err := r.setup(ctx); err != nil {
		return fmt.Errorf("destroy %s: %w", containerID, err)
	}
	ctx = r.ctx(ctx)
	unlock := r.locks.lock(containerID)
	defer unlock()

	rec, haveRec, err := r.dirs.readRecord(containerID)
	if err != nil {
		r.log.Warn("destroy: unreadable network record", "container", containerID, "error", err)
		rec, haveRec = netRecord{ID: containerID}, true
	}
	c, err := r.client.LoadContainer(ctx, containerID)
	switch {
	case errdefs.IsNotFound(err):
		if !haveRec {
			return nil
		}
	case err != nil:
		return fmt.Errorf("destroy %s: %w", containerID, err)
	default:
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return fmt.Errorf("destroy %s: %w", containerID, err)
		}
		if !haveRec {
			rec = recordFromLabels(containerID, info.Labels)
		}
		if err := r.killTask(ctx, c); err != nil {
			return fmt.Errorf("destroy %s: %w", containerID, err)
		}
		if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("destroy %s: delete container: %w", containerID, err)
		}
	}
	if err := r.net.teardown(ctx, rec); err != nil {
		return fmt.Errorf("destroy %s: %w", containerID, err)
	}
	r.ports.release(containerID, rec.Ports)
	if err := r.dirs.removeRecord(containerID); err != nil {
		return fmt.Errorf("destroy %s: %w", containerID, err)
	}
	r.mu.Lock()
	delete(r.ooms, containerID)
	r.mu.Unlock()
	return nil
}

// killTask kills and deletes a container's task, if it has one, after the
// processes this Runtime tracks in it have reported their exit.
func (r *Runtime) killTask(ctx context.Context, c client.Container) error {
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load task: %w", err)
	}
	exitC, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait for init: %w", err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
		r.log.Warn("kill container", "container", c.ID(), "error", err)
	}
	select {
	case <-exitC:
	case <-ctx.Done():
		return ctx.Err()
	}
	wctx, cancel := context.WithTimeout(ctx, processExitTimeout)
	defer cancel()
	for _, p := range r.processes(c.ID()) {
		select {
		case <-p.done:
		case <-wctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task: %w", err)
	}
	return nil
}

// Cleanup removes what crashed runs of the rep (or of Create) left behind:
// networks (IPAM addresses, port mappings, network namespaces) and host
// ports of containers that do not exist, writable layers no container
// uses, FIFO directories no process uses, and temporary mounts. Containers
// themselves are left to the rep: List them and Destroy those it does not
// want.
func (r *Runtime) Cleanup(ctx context.Context) error {
	if r.base.Err() != nil {
		return ErrClosed
	}
	if err := r.setup(ctx); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	ctx = r.ctx(ctx)
	cs, err := r.client.Containers(ctx)
	if err != nil {
		return fmt.Errorf("cleanup: list containers: %w", err)
	}
	exists := map[string]bool{}
	snapshotInUse := map[string]bool{}
	netnsInUse := map[string]bool{}
	for _, c := range cs {
		exists[c.ID()] = true
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		snapshotInUse[info.SnapshotKey] = true
		if ns := info.Labels[labelNetNS]; ns != "" {
			netnsInUse[ns] = true
		}
	}
	var errs []error
	errs = append(errs, r.cleanupNetworks(ctx, exists, netnsInUse)...)
	errs = append(errs, r.cleanupSnapshots(ctx, snapshotInUse)...)
	errs = append(errs, r.cleanupFIFOs(ctx, cs)...)
	errs = append(errs, r.cleanupMounts()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}

// cleanupNetworks tears down the networks of records without a container,
// and removes network namespaces no record or container refers to.
func (r *Runtime) cleanupNetworks(ctx context.Context, exists, netnsInUse map[string]bool) []error {
	var errs []error
	recs, err := r.dirs.records()
	if err != nil {
		return []error{err}
	}
	for _, rec := range recs {
		if rec.NetNS != "" {
			netnsInUse[rec.NetNS] = true
		}
		if exists[rec.ID] || r.isBusy(rec.ID) {
			continue
		}
		unlock := r.locks.lock(rec.ID)
		err := r.net.teardown(ctx, rec)
		if err == nil {
			r.ports.release(rec.ID, rec.Ports)
			err = r.dirs.removeRecord(rec.ID)
			r.log.Info("cleaned up the network of a container that does not exist", "container", rec.ID)
		}
		unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("network of %s: %w", rec.ID, err))
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(r.dirs.networks(), "*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
	r.mu.Lock()
	creating := len(r.busy) > 0
	r.mu.Unlock()
	if creating {
		return errs // a namespace may be between creation and its record
	}
	entries, _ := os.ReadDir(r.dirs.netns())
	for _, e := range entries {
		path := filepath.Join(r.dirs.netns(), e.Name())
		if netnsInUse[path] {
			continue
		}
		if err := netns.LoadNetNS(path).Remove(); err != nil {
			errs = append(errs, fmt.Errorf("remove network namespace %s: %w", path, err))
		}
	}
	return errs
}

// cleanupSnapshots removes active snapshots (writable layers, half-done
// stack imports) that no container uses and no Create is preparing.
func (r *Runtime) cleanupSnapshots(ctx context.Context, inUse map[string]bool) []error {
	sn := r.client.SnapshotService(snapshotter)
	var stray []string
	err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindActive && !inUse[info.Name] && !r.isBusy(info.Name) {
			stray = append(stray, info.Name)
		}
		return nil
	})
	if err != nil {
		return []error{fmt.Errorf("walk snapshots: %w", err)}
	}
	var errs []error
	for _, key := range stray {
		if r.isBusy(key) {
			continue
		}
		if err := sn.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", key, err))
			continue
		}
		r.log.Info("removed a writable layer no container uses", "snapshot", key)
	}
	return errs
}

// cleanupFIFOs removes FIFO directories that no process of the cell's
// containers, running or exited but not yet deleted, refers to.
func (r *Runtime) cleanupFIFOs(ctx context.Context, cs []client.Container) []error {
	r.fifoMu.Lock()
	defer r.fifoMu.Unlock()
	inUse := map[string]bool{}
	for _, c := range cs {
		ids, err := r.execIDs(ctx, c.ID())
		if err != nil {
			return []error{fmt.Errorf("processes of %s: %w", c.ID(), err)}
		}
		for _, p := range r.processes(c.ID()) {
			ids = append(ids, p.ID())
		}
		for _, id := range ids {
			resp, err := r.client.TaskService().Get(ctx, &apitasks.GetRequest{ContainerID: c.ID(), ExecID: id})
			if err = errgrpc.ToNative(err); err != nil {
				if errdefs.IsNotFound(err) {
					continue
				}
				return []error{fmt.Errorf("process %s of %s: %w", id, c.ID(), err)}
			}
			for _, d := range r.ownFIFODirs(resp.GetProcess().GetStdout(), resp.GetProcess().GetStderr()) {
				inUse[d] = true
			}
		}
	}
	entries, err := os.ReadDir(r.dirs.fifo())
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(r.dirs.fifo(), e.Name())
		if inUse[dir] {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// cleanupMounts unmounts and removes what crashed imports and extractions
// left under mnt/.
func (r *Runtime) cleanupMounts() []error {
	r.mntMu.Lock()
	defer r.mntMu.Unlock()
	entries, err := os.ReadDir(r.dirs.mnt())
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(r.dirs.mnt(), e.Name())
		if err := mount.UnmountAll(dir, 0); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", dir, err))
			continue
		}
		if err := os.Remove(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
