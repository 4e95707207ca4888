package launcher

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// The containerd row: a private containerd daemon for the dev cell, with
// its own root, state and socket under the state dir, so that it never
// touches the machine's own containerd. It starts only when the rep is
// built. Readiness is its Prometheus endpoint answering.

func containerdDaemon() Daemon {
	return Daemon{
		Name:       "containerd",
		System:     "containerd",
		With:       "rep",
		NeedsRoot:  true,
		ConfigName: "containerd.toml",
		RenderRaw:  renderContainerd,
		Args:       func(cfg string) []string { return []string{"--config", cfg} },
		ReadyPath:  "/v1/metrics",
		Preflight:  cellPreflight,
	}
}

// ContainerdSocket is the dev containerd's socket.
func (e *Env) ContainerdSocket() string {
	return filepath.Join(e.DataDir("containerd"), "containerd.sock")
}

// cellPreflight checks what running containers needs besides containerd.
func cellPreflight() error {
	for _, bin := range []string{"runc", "catatonit"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install %s)", bin, bin)
		}
	}
	return nil
}

func renderContainerd(env *Env) ([]byte, error) {
	dir := env.DataDir("containerd")
	sock := env.ContainerdSocket()
	// Debian's containerd 1.6 reads version 2 configs. CRI is disabled (it
	// would want its own CNI config), and so are snapshotters that cannot
	// load here.
	return fmt.Appendf(nil, `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", env.Addr("containerd", "ops"), filepath.Join(dir, "opt")), nil
}
