package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

const (
	// initPath is where the init binary is bind-mounted in a container.
	initPath = "/.anvil/init"
	// vcapUID and vcapGID are the unprivileged user containers run as
	// unless a process asks for another (non-root) user.
	vcapUID, vcapGID = 2000, 2000
	defaultPath      = "/usr/local/bin:/usr/bin:/bin"
	// minCPUShares is the floor of the CPU weight mapping (the kernel's
	// own minimum is 2).
	minCPUShares = 10
	// undoTimeout bounds the cleanup of a failed Create.
	undoTimeout = 30 * time.Second
)

// Create makes the container: the network (and its host ports), a writable
// layer on the stack with the tarballs extracted into it, the limits, and
// PID 1 (catatonit in pause mode) running as vcap. Anything it set up is
// undone when it fails.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) (_ *runtime.Container, retErr error) {
	if r.base.Err() != nil {
		return nil, ErrClosed
	}
	if err := validateSpec(spec); err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}
	ctx = r.ctx(ctx)
	unlock := r.locks.lock(spec.ID)
	defer unlock()
	defer r.markBusy(spec.ID)()
	began := time.Now()

	if _, err := r.client.LoadContainer(ctx, spec.ID); err == nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, ErrExists)
	} else if !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}
	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Stat(ctx, r.stackKey(spec.Stack)); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("create %s: stack %q not found (EnsureStack first)", spec.ID, spec.Stack)
		}
		return nil, fmt.Errorf("create %s: stack %q: %w", spec.ID, spec.Stack, err)
	}

	// undo runs, last first, when Create fails.
	var undo []func(context.Context) error
	defer func() {
		if retErr == nil {
			return
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undo[i](uctx); err != nil {
				r.log.Warn("undo failed create", "container", spec.ID, "error", err)
			}
		}
	}()

	hostPorts, err := r.ports.allocate(spec.ID, len(spec.Ports))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}
	rec := netRecord{ID: spec.ID, Ports: r.net.mappings(spec.Ports, hostPorts)}
	undo = append(undo, func(context.Context) error {
		r.ports.release(spec.ID, rec.Ports)
		return nil
	})
	if err := r.dirs.writeRecord(rec); err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := r.net.teardown(ctx, rec); err != nil {
			return err // keep the record: Cleanup retries
		}
		return r.dirs.removeRecord(spec.ID)
	})
	if err := r.net.setup(ctx, &rec, r.dirs.writeRecord); err != nil {
		return nil, fmt.Errorf("create %s: network: %w", spec.ID, err)
	}
	labels, err := containerLabels(spec, r.cfg.HostIP, rec)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", spec.ID, err)
	}

	// The lease keeps the writable layer from the garbage collector until
	// the container record refers to it.
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("create %s: lease: %w", spec.ID, err)
	}
	defer done(context.WithoutCancel(ctx))
	mounts, err := sn.Prepare(ctx, spec.ID, r.stackKey(spec.Stack))
	if errdefs.IsAlreadyExists(err) {
		// Left behind by a Create that crashed before NewContainer: no
		// container refers to it (checked above).
		if err = sn.Remove(ctx, spec.ID); err == nil {
			mounts, err = sn.Prepare(ctx, spec.ID, r.stackKey(spec.Stack))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: prepare writable layer: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		if err := sn.Remove(ctx, spec.ID); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		return nil
	})
	if len(spec.Tarballs) > 0 {
		err := r.withMount(mounts, func(root string) error {
			for _, tb := range spec.Tarballs {
				if err := extractTarball(ctx, root, tb); err != nil {
					return fmt.Errorf("tarball %s: %w", tb.Path, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", spec.ID, err)
		}
	}

	c, err := r.client.NewContainer(ctx, spec.ID,
		client.WithSnapshotter(snapshotter),
		client.WithSnapshot(spec.ID),
		client.WithRuntime(runcRuntime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(r.specOpts(spec, rec)...),
	)
	if err != nil {
		return nil, fmt.Errorf("create %s: container: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		return c.Delete(ctx, client.WithSnapshotCleanup)
	})
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		return nil, fmt.Errorf("create %s: task: %w", spec.ID, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		_, err := task.Delete(ctx, client.WithProcessKill)
		return err
	})
	if err := task.Start(ctx); err != nil {
		return nil, fmt.Errorf("create %s: start init: %w", spec.ID, err)
	}
	r.log.Debug("created container", "container", spec.ID, "ip", rec.IP, "ports", formatPorts(rec.Ports),
		"took", time.Since(began).Round(time.Millisecond))
	out := containerFromLabels(spec.ID, labels)
	return out, nil
}

// specOpts is the OCI spec of a container's PID 1 and its limits.
func (r *Runtime) specOpts(spec runtime.ContainerSpec, rec netRecord) []oci.SpecOpts {
	mounts := []specs.Mount{
		{Destination: initPath, Type: "bind", Source: r.cfg.InitPath, Options: []string{"bind", "ro"}},
		// runc binds the container's own cgroups here, so that a process
		// can read its limits (JVMs size their heap from them).
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
	}
	for _, m := range spec.Mounts {
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		mounts = append(mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: []string{"rbind", opt}})
	}
	pids := spec.MaxPids
	if pids == 0 {
		pids = r.cfg.DefaultMaxPids
	}
	opts := []oci.SpecOpts{
		oci.WithProcessArgs(initPath, "-P"),
		oci.WithProcessCwd("/"),
		oci.WithEnv([]string{"PATH=" + defaultPath}),
		oci.WithHostname(hostname(spec.ID)),
		oci.WithUIDGID(vcapUID, vcapGID),
		oci.WithNoNewPrivileges,
		oci.WithMounts(mounts),
		oci.WithPidsLimit(pids),
		oci.WithCPUShares(cpuShares(spec.CPUWeight)),
		oci.WithRlimit(&specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: r.cfg.DefaultNoFile, Soft: r.cfg.DefaultNoFile}),
	}
	if spec.MemoryBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(spec.MemoryBytes)))
		if r.memsw {
			// No swap on top of the limit.
			opts = append(opts, oci.WithMemorySwap(spec.MemoryBytes))
		}
	}
	opts = append(opts, r.net.specOpts(rec)...)
	// Last: the profile allows syscalls by the capabilities in the spec.
	return append(opts, seccomp.WithDefaultProfile())
}

// cpuShares maps a CPU weight (1-100; 0 is 100) to cgroup v1 cpu.shares,
// 1024 at full weight.
func cpuShares(weight uint32) uint64 {
	if weight == 0 {
		weight = 100
	}
	return max(1024*uint64(weight)/100, minCPUShares)
}

// hostname is a container's host name: its id, cut to the kernel's limit.
func hostname(id string) string {
	if len(id) > 63 {
		return id[:63]
	}
	return id
}

func validateSpec(spec runtime.ContainerSpec) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := identifiers.Validate(spec.ID); err != nil {
		bad("invalid id: %w", err)
	}
	if spec.Stack == "" {
		bad("no stack")
	}
	if spec.MemoryBytes < 0 || spec.DiskBytes < 0 || spec.MaxPids < 0 {
		bad("negative limit")
	}
	if spec.CPUWeight > 100 {
		bad("cpu weight %d is over 100", spec.CPUWeight)
	}
	seen := map[uint32]bool{}
	for _, p := range spec.Ports {
		if p == 0 || p > 65535 || seen[p] {
			bad("port %d is out of range or repeated", p)
		}
		seen[p] = true
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Source) || !isContainerPath(m.Destination) {
			bad("mount %s → %s: source and destination must be absolute, and the destination not /", m.Source, m.Destination)
			continue
		}
		if _, err := os.Stat(m.Source); err != nil {
			bad("mount source: %w", err)
		}
	}
	for _, tb := range spec.Tarballs {
		if !filepath.IsAbs(tb.Path) || !isContainerPath(tb.Destination) {
			bad("tarball %s → %s: path and destination must be absolute, and the destination not /", tb.Path, tb.Destination)
		}
	}
	return errors.Join(errs...)
}

// isContainerPath reports whether p is an absolute path below /.
func isContainerPath(p string) bool {
	return path.IsAbs(p) && path.Clean(p) != "/"
}
