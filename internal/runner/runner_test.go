package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestGroup(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		units   []Named
		wantErr error
	}{
		{
			name: "failure cancels the others",
			units: []Named{
				{Name: "waiter", Runner: Func(func(ctx context.Context) error { <-ctx.Done(); return nil })},
				{Name: "failer", Runner: Func(func(context.Context) error { return boom })},
			},
			wantErr: boom,
		},
		{
			name: "one-shot units do not stop the group early",
			units: []Named{
				{Name: "once", Runner: Func(func(context.Context) error { return nil })},
				{Name: "twice", Runner: Func(func(context.Context) error { return nil })},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Group(context.Background(), tt.units...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Group = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !strings.Contains(err.Error(), "failer") {
				t.Fatalf("error %q does not name the unit", err)
			}
		})
	}
}

func TestGroupCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Group(ctx, Named{Name: "w", Runner: Func(func(ctx context.Context) error { <-ctx.Done(); return nil })})
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Group after cancel = %v, want nil", err)
	}
}

func TestWithDeadline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stuck := make(chan struct{})
	defer close(stuck)
	err := WithDeadline(ctx, Func(func(context.Context) error { <-stuck; return nil }), 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("WithDeadline = %v, want a timeout error", err)
	}
	err = WithDeadline(ctx, Func(func(ctx context.Context) error { <-ctx.Done(); return nil }), time.Second)
	if err != nil {
		t.Fatalf("WithDeadline clean = %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the signal goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSignals sends real signals to this process; it is not parallel.
func TestSignals(t *testing.T) {
	var dump syncBuffer
	exited := make(chan int, 1)
	reloaded := make(chan struct{}, 1)
	ctx, stop := Signals(context.Background(), SignalOptions{
		Dump:   &dump,
		Exit:   func(code int) { exited <- code },
		Reload: func() { reloaded <- struct{}{} },
	})
	defer stop()

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reloaded, "reload on SIGHUP")

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(dump.String(), "goroutine ") {
			return errors.New("no goroutine dump after SIGUSR1")
		}
		return nil
	})

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx.Done(), "context cancelled on SIGTERM")
	if ctx.Err() == nil {
		t.Fatal("context not cancelled")
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("exit code %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not force exit")
	}
}

// TestSignalsUSR1Terminates checks the gorouter's drain signal: SIGUSR1
// cancels the context instead of dumping stacks. Not parallel (real
// signals); it runs after TestSignals has released its handlers.
func TestSignalsUSR1Terminates(t *testing.T) {
	var dump syncBuffer
	ctx, stop := Signals(context.Background(), SignalOptions{
		Dump: &dump, Exit: func(int) {}, USR1Terminates: true,
	})
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx.Done(), "context cancelled on SIGUSR1")
	if !strings.Contains(context.Cause(ctx).Error(), "user defined signal 1") {
		t.Errorf("cause %v, want it to name SIGUSR1", context.Cause(ctx))
	}
	if dump.String() != "" {
		t.Errorf("stacks dumped on a terminating SIGUSR1")
	}
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
