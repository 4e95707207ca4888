package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Detach starts `anvil ARGS...` (a foreground `dev up`) in its own session
// in the background, copies its progress output to progress until the
// platform is ready, and returns. If the background launcher exits first,
// Detach returns an error; its output stays in DIR/logs/anvil.out.
func Detach(ctx context.Context, stateDir string, args []string, progress io.Writer) error {
	ly := layout{stateDir}
	if err := ly.prepare(); err != nil {
		return err
	}
	if lockHeld(ly) {
		return fmt.Errorf("%w (%s): run anvil dev status or anvil dev down", ErrAlreadyRunning, stateDir)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	outPath := ly.logFile("anvil-up")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: start launcher: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	in, err := os.Open(outPath)
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer in.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _ = io.Copy(progress, in)
		select {
		case err := <-exited:
			_, _ = io.Copy(progress, in)
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("anvil dev up failed (%v); its output is in %s", err, outPath)
		case <-ctx.Done():
			return fmt.Errorf("detach: %w (the launcher goes on in the background; anvil dev down stops it)", ctx.Err())
		case <-tick.C:
		}
		if st, err := GetStatus(ctx, stateDir); err == nil && st.Phase == PhaseReady && st.Pid == cmd.Process.Pid {
			_, _ = io.Copy(progress, in) // the instructions, written before the phase flipped
			return nil
		}
	}
}
