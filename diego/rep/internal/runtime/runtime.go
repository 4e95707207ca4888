// Package runtime is the rep's view of a container runtime: the small set of
// operations the rep's instance and task logic is written against. The
// containerd package implements it for real cells; the fake package keeps
// everything in memory for unit tests.
//
// The model is Garden's, as Diego uses it: a container is an isolated root
// filesystem (the stack, shared read-only, plus a writable layer), a
// network identity and resource limits, with a minimal init as PID 1. The
// app process, and anything else the rep runs inside (a task's command, a
// check), is started in it with Run, as an exec'd process with its own
// stdio. Containers carry the rep's labels so that a restarted rep finds
// them again with List and reattaches to their processes with Attach.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"
)

// ErrNotFound is returned for a container or process that does not exist.
var ErrNotFound = errors.New("runtime: not found")

// Runtime runs containers.
type Runtime interface {
	// Available checks that the runtime can be used, and otherwise returns
	// an error naming what is missing (not root, no socket, daemon not
	// answering, no overlayfs snapshotter, missing CNI plugins).
	Available(ctx context.Context) error
	// EnsureStack makes the root filesystem in dir available as stack name.
	// It is idempotent: an existing stack of that name is kept.
	EnsureStack(ctx context.Context, name, dir string) error
	// Create makes a container and its network, with PID 1 running, and
	// returns it. Nothing of the spec's own runs yet.
	Create(ctx context.Context, spec ContainerSpec) (*Container, error)
	// Run starts a process in a container.
	Run(ctx context.Context, containerID string, spec ProcessSpec) (Process, error)
	// Attach reconnects to a process started by Run (before a rep restart),
	// sending its further output to the writers. ErrNotFound when it is
	// gone.
	Attach(ctx context.Context, containerID, processID string, stdout, stderr io.Writer) (Process, error)
	// Destroy kills everything in a container and removes it, its writable
	// layer and its network. A container that does not exist is not an
	// error.
	Destroy(ctx context.Context, containerID string) error
	// List returns the runtime's containers (of this cell) with their
	// labels, to reattach after a restart.
	List(ctx context.Context) ([]*Container, error)
	// Metrics returns a container's resource usage.
	Metrics(ctx context.Context, containerID string) (Metrics, error)
	// ReadFile returns up to max bytes of a file inside a container (a
	// task's result file).
	ReadFile(ctx context.Context, containerID, path string, max int64) ([]byte, error)
	// Cleanup removes what crashed runs left behind: networks without a
	// container, leftover FIFOs and mounts.
	Cleanup(ctx context.Context) error
}

// ContainerSpec describes a container to create.
type ContainerSpec struct {
	// ID names the container (the instance or task guid).
	ID string
	// Stack is a name given to EnsureStack.
	Stack string
	// Labels are stored with the container and returned by List.
	Labels map[string]string
	// MemoryBytes is the hard memory limit (0: none). Exceeding it kills
	// the process, and its exit reports OOMKilled.
	MemoryBytes int64
	// DiskBytes is the disk quota, where the runtime enforces one (0: none).
	DiskBytes int64
	// CPUWeight is 1-100, mapped to CPU shares (0: the default weight).
	CPUWeight uint32
	// MaxPids caps processes and threads (0: the runtime's default).
	MaxPids int64
	// Ports are the container ports to make reachable from the cell.
	Ports []uint32
	// Mounts are bind mounts from the cell (the lifecycle binaries).
	Mounts []Mount
	// Tarballs are extracted into the container's root filesystem before it
	// starts (the droplet into /home/vcap).
	Tarballs []Tarball
}

// Mount is a bind mount from the cell into a container.
type Mount struct {
	Source, Destination string
	ReadOnly            bool
}

// Tarball is a (gzipped or plain) tar file extracted into a container, its
// files owned by UID:GID.
type Tarball struct {
	Path        string
	Destination string
	UID, GID    uint32
}

// PortMapping is a container port and where the cell exposes it.
// Container.Ports lists one per ContainerSpec.Ports entry, in the same
// order. The process must listen on ContainerPort: with host networking
// (no translation) that is the allocated host port, equal to HostPort, not
// the port the spec asked for.
type PortMapping struct {
	ContainerPort uint32
	HostPort      uint32
}

// Container is a created container.
type Container struct {
	ID     string
	Labels map[string]string
	// HostIP is the cell's address; HostPort mappings are reachable on it.
	HostIP string
	// IP is the container's own address (equal to HostIP in host
	// networking).
	IP    string
	Ports []PortMapping
	// Processes lists the ids of processes started by Run that still run
	// (filled by List).
	Processes []string
}

// ProcessSpec describes a process to run in a container.
type ProcessSpec struct {
	// ID names the process within its container ("app", "task").
	ID   string
	Args []string
	Env  []string
	Dir  string
	// User is "vcap" or "uid:gid"; root is refused.
	User string
	// NoFile is the open-file limit (0: the runtime's default).
	NoFile uint64
	// Stdout and Stderr receive the process's output; nil discards it.
	Stdout, Stderr io.Writer
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code int
	// OOMKilled is true when the memory limit killed it.
	OOMKilled bool
	ExitedAt  time.Time
}

// Process is a running process.
type Process interface {
	ID() string
	// Wait blocks until the process exits or ctx ends.
	Wait(ctx context.Context) (ExitStatus, error)
	// Signal sends sig to the process.
	Signal(ctx context.Context, sig syscall.Signal) error
}

// Metrics is a container's resource usage.
type Metrics struct {
	// CPUTime is the total CPU time used.
	CPUTime          time.Duration
	MemoryBytes      uint64
	MemoryLimitBytes uint64
	DiskBytes        uint64
	At               time.Time
}
