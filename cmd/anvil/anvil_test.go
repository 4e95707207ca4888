package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/launcher"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestDevUpStatusDown runs the real binary the way a person does:
// `anvil dev up --detach`, `status`, `down`, and checks nothing is left.
func TestDevUpStatusDown(t *testing.T) {
	testenv.RequirePostgresBinaries(t)
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "anvil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build anvil: %v\n%s", err, out)
	}
	state, err := os.MkdirTemp("", "anvil-cmd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(bin, "dev", "down", "--state-dir", state).Run()
		os.RemoveAll(state)
	})
	anvil := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--state-dir", state)...)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := anvil("dev", "up", "--detach", "--bin-dir", t.TempDir())
	if err != nil {
		t.Fatalf("dev up: %v\n%s", err, out)
	}
	for _, want := range []string{"starting Postgres", "starting NATS", "cf api http://localhost:9022", "cf login -u admin -p "} {
		if !strings.Contains(out, want) {
			t.Errorf("dev up output lacks %q:\n%s", want, out)
		}
	}

	out, err = anvil("dev", "up", "--detach")
	if err == nil || !strings.Contains(out, "already running") {
		t.Errorf("second dev up: err %v, output:\n%s", err, out)
	}

	out, err = anvil("dev", "status", "--json")
	if err != nil {
		t.Fatalf("dev status: %v\n%s", err, out)
	}
	var st launcher.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	if st.Phase != launcher.PhaseReady || st.Postgres == nil || st.NATS == nil {
		t.Fatalf("unexpected status %+v", st)
	}
	ep, err := launcher.ReadEndpoints(state)
	if err != nil {
		t.Fatal(err)
	}
	if ep.AdminPassword == "" || ep.NATS == "" {
		t.Fatalf("endpoints incomplete: %+v", ep)
	}

	out, err = anvil("dev", "logs", "anvil")
	if err != nil || !strings.Contains(out, "platform ready") {
		t.Errorf("dev logs anvil: %v\n%s", err, out)
	}

	out, err = anvil("dev", "down")
	if err != nil {
		t.Fatalf("dev down: %v\n%s", err, out)
	}
	for _, pid := range []int{st.Pid, st.Postgres.Pid} {
		testenv.Eventually(t, 5*time.Second, func() error {
			if alive(pid) {
				return fmt.Errorf("process %d still alive after dev down", pid)
			}
			return nil
		})
	}
	out, err = anvil("dev", "status")
	if err == nil || !strings.Contains(out, "not running") {
		t.Errorf("status after down: err %v, output:\n%s", err, out)
	}
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(data), ") Z ")
}
