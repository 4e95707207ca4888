package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestStackFromNewDirectory points a stack at a rebuilt directory: new
// containers get the new root filesystem, the running one keeps its own,
// and the old import goes once nothing uses it.
func TestStackFromNewDirectory(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	oldKey := r.stackKey(stack)
	old := create(t, r, runtime.ContainerSpec{})
	if got := sh(t, r, old.ID, "cat /etc/stack-version 2>/dev/null || echo none"); strings.TrimSpace(got) != "none" {
		t.Fatalf("old stack says %q", got)
	}

	// A rebuilt stack: a copy of the test stack, at another path, with a
	// file the first one lacks.
	rebuilt := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", testenv.BusyboxStack(t), rebuilt).CombinedOutput(); err != nil {
		t.Fatalf("copy the stack: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(rebuilt, "etc", "stack-version"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureStack(ctx, stack, rebuilt); err != nil {
		t.Fatalf("EnsureStack with the rebuilt directory: %v", err)
	}
	if r.stackKey(stack) == oldKey {
		t.Fatalf("stack key unchanged (%s) after a new directory", oldKey)
	}
	fresh := create(t, r, runtime.ContainerSpec{})
	if got := sh(t, r, fresh.ID, "cat /etc/stack-version"); strings.TrimSpace(got) != "2" {
		t.Errorf("a new container sees stack version %q, want 2", got)
	}
	if got := sh(t, r, old.ID, "cat /etc/stack-version 2>/dev/null || echo none"); strings.TrimSpace(got) != "none" {
		t.Errorf("the running container's root filesystem changed: %q", got)
	}
	sn := r.client.SnapshotService(snapshotter)
	if _, err := sn.Stat(r.ctx(ctx), oldKey); err != nil {
		t.Errorf("the old import was removed while a container uses it: %v", err)
	}

	if err := r.Destroy(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureStack(ctx, stack, rebuilt); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Stat(r.ctx(ctx), oldKey); err == nil {
		t.Errorf("the old import %s is still there once unused", oldKey)
	}
}
