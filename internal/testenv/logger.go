package testenv

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger returns a text logger that writes through t.Log at Debug level, so
// output shows up only for failing tests or with -v. Lines logged after the
// test has finished (by goroutines that outlive it) are dropped instead of
// panicking.
func Logger(t testing.TB) *slog.Logger {
	return newLogger(t, slog.LevelDebug)
}

func newLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

var _ io.Writer = (*tWriter)(nil)

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
