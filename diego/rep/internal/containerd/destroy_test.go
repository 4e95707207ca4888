package containerd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func TestDestroy(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{NetworkHost, NetworkBridge} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r, cfg := newCellConfig(t, mode)
			ctx := context.Background()
			c := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080}})
			p, _, _ := start(t, r, c.ID, runtime.ProcessSpec{Args: []string{"sleep", "600"}})

			if err := r.Destroy(ctx, c.ID); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
			// The rep's grace period is its own: Destroy kills.
			if st, err := p.Wait(ctx); err != nil || st.Code != 137 || st.OOMKilled {
				t.Errorf("process of a destroyed container: %+v, %v; want 137", st, err)
			}
			for i := range 2 {
				if err := r.Destroy(ctx, c.ID); err != nil {
					t.Errorf("Destroy again (%d): %v", i+1, err)
				}
			}
			if err := r.Destroy(ctx, "never-created"); err != nil {
				t.Errorf("Destroy of an unknown container: %v", err)
			}
			ctx = r.ctx(ctx)
			if _, err := r.client.LoadContainer(ctx, c.ID); !errdefs.IsNotFound(err) {
				t.Errorf("container record after Destroy: %v", err)
			}
			if _, err := r.client.SnapshotService(snapshotter).Stat(ctx, c.ID); !errdefs.IsNotFound(err) {
				t.Errorf("writable layer after Destroy: %v", err)
			}
			if _, err := r.client.SnapshotService(snapshotter).Stat(ctx, r.stackKey(stack)); err != nil {
				t.Errorf("stack after Destroy: %v", err)
			}
			for _, dir := range []string{"networks", "netns", "fifo", "mnt"} {
				if entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, dir)); len(entries) > 0 {
					t.Errorf("%s/ holds %d entries after Destroy", dir, len(entries))
				}
			}
			if mode == NetworkBridge {
				if addrs := ipamAddresses(t, cfg); len(addrs) > 0 {
					t.Errorf("IPAM holds %v after Destroy", addrs)
				}
				if out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S").Output(); strings.Contains(string(out), c.ID) {
					t.Errorf("iptables rules for %s remain", c.ID)
				}
			}
			if _, err := r.Run(ctx, c.ID, runtime.ProcessSpec{ID: "x", Args: []string{"id"}}); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("Run after Destroy: %v, want ErrNotFound", err)
			}
			if _, err := r.Metrics(ctx, c.ID); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("Metrics after Destroy: %v, want ErrNotFound", err)
			}
			if _, err := r.ReadFile(ctx, c.ID, "/etc/passwd", 10); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("ReadFile after Destroy: %v, want ErrNotFound", err)
			}
			// The id and the host port are free again.
			again := create(t, r, runtime.ContainerSpec{ID: c.ID, Ports: []uint32{8080}})
			if again.ID != c.ID {
				t.Errorf("recreated as %s", again.ID)
			}
		})
	}
}

func TestCreateFails(t *testing.T) {
	t.Parallel()
	r, cfg := newCellConfig(t, NetworkBridge)
	ctx := context.Background()
	good := create(t, r, runtime.ContainerSpec{})
	evil := evilTarball(t)
	tests := []struct {
		name string
		spec runtime.ContainerSpec
		want string
	}{
		{"existing id", runtime.ContainerSpec{ID: good.ID, Stack: stack}, "already exists"},
		{"unknown stack", runtime.ContainerSpec{ID: "x1", Stack: "nope"}, `stack "nope" not found`},
		{"bad id", runtime.ContainerSpec{ID: "no/slash", Stack: stack}, "invalid id"},
		{"weight over 100", runtime.ContainerSpec{ID: "x2", Stack: stack, CPUWeight: 101}, "cpu weight"},
		{"repeated port", runtime.ContainerSpec{ID: "x3", Stack: stack, Ports: []uint32{80, 80}}, "repeated"},
		{"missing mount source", runtime.ContainerSpec{ID: "x4", Stack: stack,
			Mounts: []runtime.Mount{{Source: "/no/such/dir", Destination: "/opt/x"}}}, "mount source"},
		{"reserved label", runtime.ContainerSpec{ID: "x5", Stack: stack, Labels: map[string]string{labelIP: "1.2.3.4"}}, "reserved"},
		{"tarball escaping through a symlink", runtime.ContainerSpec{ID: "x6", Stack: stack, Ports: []uint32{8080},
			Tarballs: []runtime.Tarball{{Path: evil.path, Destination: "/home/vcap", UID: 2000, GID: 2000}}}, "escape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Create(ctx, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Create: %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Cleanup(func() {
		if _, err := os.Stat(evil.target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the tarball wrote %s on the host", evil.target)
		}
		// Failed creates undo everything: only the good container remains.
		cs, err := r.List(ctx)
		if err != nil || len(cs) != 1 {
			t.Errorf("List after failed creates: %+v, %v", cs, err)
		}
		for _, dir := range []string{"networks", "netns"} {
			if entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, dir)); len(entries) != 1 {
				t.Errorf("%s/ holds %d entries, want the good container's only", dir, len(entries))
			}
		}
		if entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, "mnt")); len(entries) > 0 {
			t.Errorf("mnt/ holds %d entries", len(entries))
		}
		if addrs := ipamAddresses(t, cfg); len(addrs) != 1 {
			t.Errorf("IPAM holds %v, want the good container's only", addrs)
		}
	})
}

// TestCleanup leaves what a crashing rep would and checks that Cleanup
// removes it, and nothing of a live container.
func TestCleanup(t *testing.T) {
	t.Parallel()
	r, cfg := newCellConfig(t, NetworkBridge)
	ctx := r.ctx(context.Background())
	live := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080}})
	_, out, _ := start(t, r, live.ID, runtime.ProcessSpec{ID: "app", Args: []string{"/bin/sh", "-c",
		`echo one; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo two; exec sleep 600`}})
	waitFor(t, out, "one")
	if err := r.setup(ctx); err != nil {
		t.Fatal(err)
	}

	// A Create that crashed after its network setup.
	orphan := netRecord{ID: "crashed-create", Ports: r.net.mappings([]uint32{8080}, []uint32{cfg.PortRange.Max})}
	if err := r.dirs.writeRecord(orphan); err != nil {
		t.Fatal(err)
	}
	if err := r.net.setup(ctx, &orphan, r.dirs.writeRecord); err != nil {
		t.Fatal(err)
	}
	// ... one that crashed before NewContainer, leaving its writable layer.
	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Prepare(ctx, "crashed-layer", r.stackKey(stack)); err != nil {
		t.Fatal(err)
	}
	// ... a network namespace without a record.
	strayNS := filepath.Join(cfg.StateDir, "netns", "stray")
	if err := os.WriteFile(strayNS, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("/proc/self/ns/net", strayNS, "none", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	// ... the FIFOs of a process of a crashed rep.
	strayFIFO := filepath.Join(cfg.StateDir, "fifo", "123456")
	if err := os.MkdirAll(strayFIFO, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(strayFIFO, "app-stdout"), 0o600); err != nil {
		t.Fatal(err)
	}
	// ... and a tarball extraction's mount.
	strayMount := filepath.Join(cfg.StateDir, "mnt", "m123")
	if err := os.MkdirAll(strayMount, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", strayMount, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}

	if err := r.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}

	if _, found, _ := r.dirs.readRecord(orphan.ID); found {
		t.Error("the orphan's network record remains")
	}
	if _, err := os.Stat(orphan.NetNS); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the orphan's network namespace remains: %v", err)
	}
	if addrs := ipamAddresses(t, cfg); len(addrs) != 1 || addrs[0] != live.IP {
		t.Errorf("IPAM holds %v, want only the live container's %s", addrs, live.IP)
	}
	if outp, _ := exec.Command("iptables", "-w", "-t", "nat", "-S").Output(); strings.Contains(string(outp), orphan.ID) {
		t.Error("the orphan's port mapping remains")
	}
	if _, err := sn.Stat(ctx, "crashed-layer"); !errdefs.IsNotFound(err) {
		t.Errorf("the stray writable layer remains: %v", err)
	}
	for _, p := range []string{strayNS, strayFIFO, strayMount} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s remains: %v", p, err)
		}
	}
	if mounted(t, strayMount) || mounted(t, strayNS) {
		t.Error("a stray mount remains")
	}

	// The live container is untouched: its layer, network and output.
	if _, err := sn.Stat(ctx, live.ID); err != nil {
		t.Errorf("the live container's layer: %v", err)
	}
	if _, found, _ := r.dirs.readRecord(live.ID); !found {
		t.Error("the live container's network record went")
	}
	sh(t, r, live.ID, "touch /tmp/go")
	waitFor(t, out, "two")
	if err := fifoDirsLeft(cfg); err == nil {
		t.Error("the live process's FIFO dir went")
	}
	// Cleanup twice is fine.
	if err := r.Cleanup(context.Background()); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

func mounted(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(data), " "+path+" ")
}

// TestDeadInit: a container whose PID 1 died is listed without processes,
// Run fails, and Destroy still removes it.
func TestDeadInit(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkBridge)
	ctx := r.ctx(context.Background())
	c := create(t, r, runtime.ContainerSpec{})
	sh(t, r, c.ID, "echo kept > /home/vcap/result")
	ctr, err := r.client.LoadContainer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitC, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exitC
	cs, err := r.List(ctx)
	if err != nil || len(cs) != 1 || len(cs[0].Processes) != 0 {
		t.Errorf("List: %+v, %v; want the container without processes", cs, err)
	}
	if _, err := r.Run(ctx, c.ID, runtime.ProcessSpec{ID: "x", Args: []string{"id"}}); err == nil {
		t.Error("Run in a container without PID 1 succeeded")
	}
	// The result file is still readable, from the writable layer.
	if data, err := r.ReadFile(ctx, c.ID, "/home/vcap/result", 100); err != nil || string(data) != "kept\n" {
		t.Errorf("ReadFile: %q, %v", data, err)
	}
	if entries, _ := os.ReadDir(r.dirs.mnt()); len(entries) > 0 {
		t.Errorf("mnt/ holds %d entries after the read", len(entries))
	}
	if err := r.Destroy(ctx, c.ID); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
}
