package accesslog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Writer writes access log lines to a file through a buffer flushed
// every FlushInterval, so a request never waits for the disk. When the
// buffer is full the write goes through to the file under the lock; a
// failed write is counted and logged at most once a minute, never returned
// to the request.
type Writer struct {
	logger   *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	f       io.WriteCloser
	w       *bufio.Writer
	lastErr time.Time

	failed atomic.Uint64
}

// DefaultFlushInterval is how often buffered lines reach the file.
const DefaultFlushInterval = 200 * time.Millisecond

// Open opens (appending, creating with mode 0640) the file at path.
func Open(path string, logger *slog.Logger) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return New(f, logger), nil
}

// New returns a Writer on w, which it closes in Close.
func New(w io.WriteCloser, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{logger: logger, interval: DefaultFlushInterval, f: w, w: bufio.NewWriterSize(w, 64<<10)}
}

// WriteLine writes line and a newline.
func (w *Writer) WriteLine(line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return
	}
	if _, err := w.w.Write(line); err == nil {
		err = w.w.WriteByte('\n')
		if err != nil {
			w.noteErr(err)
		}
	} else {
		w.noteErr(err)
	}
}

// noteErr runs under w.mu.
func (w *Writer) noteErr(err error) {
	w.failed.Add(1)
	if now := time.Now(); now.Sub(w.lastErr) > time.Minute {
		w.lastErr = now
		w.logger.Error("access log write failed", "err", err, "failed_total", w.failed.Load())
	}
	// Drop what is buffered so that the next writes can try again.
	w.w.Reset(w.f)
}

// Failed returns the number of lines that could not be written.
func (w *Writer) Failed() uint64 { return w.failed.Load() }

// Flush writes buffered lines to the file.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return
	}
	if err := w.w.Flush(); err != nil {
		w.noteErr(err)
	}
}

// Run flushes every interval until ctx is done, then flushes and closes
// the file and returns nil.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return w.Close()
		case <-t.C:
			w.Flush()
		}
	}
}

// Close flushes and closes the file. Later writes are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return nil
	}
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.w = nil
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}
