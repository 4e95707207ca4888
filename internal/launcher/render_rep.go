package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anvilpaas/anvil/internal/devstack"
	"github.com/anvilpaas/anvil/internal/stack"
)

// The rep row: one cell on this machine, running containers through the
// launcher's private containerd with host networking. Its stacks are the
// busybox stack, built into the state dir on first start, and the
// debian-bookworm stack when `make stack` has built it.

func repDaemon() Daemon {
	return Daemon{
		Name:      "rep",
		NeedsRoot: true,
		Ports:     []string{"grpc", "gossip"},
		Prepare:   prepareBusyboxStack,
		Render:    renderRep,
	}
}

// DevCellID is the dev cell's id.
const DevCellID = "cell-0"

func busyboxStackDir(env *Env) string { return filepath.Join(env.DataDir("stacks"), "busybox") }

// prepareBusyboxStack builds the busybox stack once; a marker file says it
// is complete.
func prepareBusyboxStack(env *Env) error {
	dir := busyboxStackDir(env)
	marker := filepath.Join(env.DataDir("stacks"), ".busybox-complete")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := devstack.Busybox(dir); err != nil {
		if errors.Is(err, devstack.ErrNoStaticBusybox) {
			return fmt.Errorf("the dev cell's stack: %w", err)
		}
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// devStacks are the dev cell's stacks: busybox, and debian-bookworm once
// `make stack` has built it (Find only looks; it builds nothing).
func devStacks(env *Env) map[string]string {
	stacks := map[string]string{"busybox": busyboxStackDir(env)}
	if res, err := stack.Find(""); err == nil {
		stacks[stack.Name] = res.RootFS
	}
	return stacks
}

func renderRep(env *Env) (any, error) {
	listen, err := tlsFiles(env, "rep", map[string]any{"listen": env.Addr("rep", "grpc")})
	if err != nil {
		return nil, err
	}
	bbs, err := tlsFiles(env, "rep", map[string]any{"addresses": []string{env.Addr("bbs", "grpc")}})
	if err != nil {
		return nil, err
	}
	data := env.DataDir("rep")
	cfg := map[string]any{
		"rpc":      listen,
		"ops":      map[string]any{"listen": env.Addr("rep", "ops")},
		"logging":  map[string]any{"level": env.LogLevel()},
		"cell_id":  DevCellID,
		"zone":     "z1",
		"stacks":   devStacks(env),
		"bbs":      bbs,
		"registry": registryConfig(env, "rep"),
		"download": map[string]any{"dir": filepath.Join(data, "downloads"), "ca_file": env.CAFile()},
		// `cf app` shows usage sooner than with Diego's 15 s.
		"metrics_interval": "5s",
		// A dev cell has nowhere to evacuate to: stop its instances soon.
		"evacuation": map[string]any{"timeout": "5s", "poll_interval": "1s"},
		"containerd": map[string]any{
			"socket":    env.ContainerdSocket(),
			"namespace": "anvil-dev",
			"state_dir": filepath.Join(data, "containerd"),
			"host_ip":   "127.0.0.1",
			"network":   map[string]any{"mode": "host"},
		},
	}
	lg, err := loggregatorClient(env, "rep")
	if err != nil {
		return nil, err
	}
	if lg != nil {
		cfg["loggregator"] = lg
	}
	// The lifecycle programs (make lifecycle), mounted into every
	// container at /tmp/lifecycle.
	if dir, err := filepath.Abs(filepath.Join(env.opts.BinDir, "lifecycle")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "launcher")); err == nil {
			cfg["lifecycle_dir"] = dir
		}
	}
	return cfg, nil
}
