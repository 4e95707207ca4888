package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"golang.org/x/sys/unix"
)

// ReadFile returns up to max bytes of the regular file at path inside the
// container, as the container sees it: through its PID 1's root while it
// runs, else through a read-only mount of its writable layer on the
// stack. Path resolution is confined to the container's root: ".." stops
// at it and symlinks, absolute ones included, resolve as they would in the
// container, so a symlink the container planted can never lead to a file
// of the host.
func (r *Runtime) ReadFile(ctx context.Context, containerID, path string, max int64) ([]byte, error) {
	if r.base.Err() != nil {
		return nil, ErrClosed
	}
	if max <= 0 {
		return nil, fmt.Errorf("read %s in %s: max must be positive", path, containerID)
	}
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return nil, notFound(err, "read "+path+" in "+containerID)
	}
	if task, err := c.Task(ctx, nil); err == nil {
		if st, err := task.Status(ctx); err == nil && st.Status == client.Running && task.Pid() > 0 {
			data, err := readInRoot(procRoot(task.Pid()), path, max)
			if err != nil {
				return nil, fmt.Errorf("read %s in %s: %w", path, containerID, err)
			}
			return data, nil
		}
	}
	// PID 1 is gone: read the writable layer over the stack.
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", path, containerID, err)
	}
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", path, containerID, err)
	}
	mounts, err := r.client.SnapshotService(snapshotter).Mounts(ctx, info.SnapshotKey)
	if err != nil {
		return nil, notFound(err, "read "+path+" in "+containerID+": writable layer")
	}
	var data []byte
	err = r.withMount(readOnly(mounts), func(root string) error {
		data, err = readInRoot(root, path, max)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", path, containerID, err)
	}
	return data, nil
}

func procRoot(pid uint32) string {
	return "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/root"
}

// readInRoot reads up to max bytes of the regular file name, resolved
// with root as "/" (openat2 RESOLVE_IN_ROOT, or os.Root, which refuses
// every symlink that leaves root, where openat2 is missing).
func readInRoot(root, name string, max int64) ([]byte, error) {
	rel := strings.TrimLeft(name, "/")
	if rel == "" {
		rel = "."
	}
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dirfd)
	var f *os.File
	fd, err := unix.Openat2(dirfd, rel, &unix.OpenHow{
		// O_NONBLOCK: opening a FIFO must not block.
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case err == nil:
		f = os.NewFile(uintptr(fd), name)
	case errors.Is(err, unix.ENOSYS):
		rt, err := os.OpenRoot(root)
		if err != nil {
			return nil, err
		}
		defer rt.Close()
		if f, err = rt.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0); err != nil {
			return nil, err
		}
	default:
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// readOnly makes snapshot mounts read-only; an overlay with its upper
// directory stacked on the lower ones, so that it can be mounted while the
// container's own mount uses the upper directory.
func readOnly(mounts []mount.Mount) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		var opts []string
		upper := ""
		for _, o := range m.Options {
			switch {
			case strings.HasPrefix(o, "upperdir="):
				upper = strings.TrimPrefix(o, "upperdir=")
			case strings.HasPrefix(o, "workdir="), o == "rw", o == "ro":
			default:
				opts = append(opts, o)
			}
		}
		if upper != "" {
			for j, o := range opts {
				if lower, ok := strings.CutPrefix(o, "lowerdir="); ok {
					opts[j] = "lowerdir=" + upper + ":" + lower
				}
			}
		}
		m.Options = append(opts, "ro")
		out[i] = m
	}
	return out
}
