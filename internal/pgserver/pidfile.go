package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// StopDataDir stops the postmaster that owns dataDir, for a process that did
// not start it (for example `anvil dev down` after `anvil dev up`). It reads
// postmaster.pid, sends SIGINT (fast shutdown) and waits until the process is
// gone; if ctx is done first it SIGKILLs the postmaster's process group and
// returns the ctx error. It returns nil if no postmaster is running, so it is
// idempotent.
func StopDataDir(ctx context.Context, dataDir string) error {
	pid, err := runningPid(dataDir)
	if err != nil {
		return fmt.Errorf("stop postgres in %s: %w", dataDir, err)
	}
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("stop postgres pid %d: %w", pid, err)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for alive(pid) {
		select {
		case <-t.C:
		case <-ctx.Done():
			killGroup(pid)
			return fmt.Errorf("stop postgres pid %d: fast shutdown did not finish, killed: %w", pid, ctx.Err())
		}
	}
	return nil
}

// RunningPid returns the pid of the live postmaster that owns dataDir, or 0
// if there is none (no postmaster.pid, or a stale one left by a crash).
func RunningPid(dataDir string) (int, error) {
	return runningPid(dataDir)
}

func runningPid(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("malformed postmaster.pid: %q", line)
	}
	if !alive(pid) || !isPostgres(pid) {
		return 0, nil
	}
	return pid, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// No procfs (or the process just went): trust kill(0).
		return !errors.Is(err, os.ErrNotExist) || syscall.Kill(pid, 0) == nil
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// isPostgres guards against a stale postmaster.pid whose pid was reused. It
// answers true when it cannot tell.
func isPostgres(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return true
	}
	return string(bytes.TrimSpace(b)) == "postgres"
}

// killGroup SIGKILLs pid's process group if pid leads one (our postmasters
// do, because of Setpgid), else just pid. Backends notice the postmaster's
// death on their own, but killing the group is faster.
func killGroup(pid int) {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
