package containerd

import "errors"

// Errors of the runtime, besides runtime.ErrNotFound.
var (
	// ErrExists is returned by Create for a container id in use.
	ErrExists = errors.New("container already exists")
	// ErrAttached is returned by Attach for a process this Runtime is
	// already attached to (it started it, or attached before).
	ErrAttached = errors.New("process already attached")
	// ErrClosed is returned by a closed Runtime's methods, and by
	// Process.Wait when the Runtime was closed before the process exited.
	ErrClosed = errors.New("runtime closed")
	// ErrRootUser is returned for a process that would run as root (uid or
	// gid 0): containers run their processes unprivileged.
	ErrRootUser = errors.New("running as root is refused")

	// errNoPorts is returned when the port range is used up.
	errNoPorts = errors.New("no free host port in the cell's port range")
)
