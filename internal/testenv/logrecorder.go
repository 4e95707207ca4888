package testenv

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
)

// LogRecorder keeps every line logged through its [LogRecorder.Logger], so a
// test can assert on what the code under test logs. Each line also goes to
// the test log, as with [Logger].
//
// Lines are in slog's text format without the time, one record a line:
//
//	level=WARN msg="postgres not reachable, retrying" db=127.0.0.1:5432/app attempt=2 err="…"
//
// Attributes added with Logger().With, and groups from WithGroup, appear in
// the line the way slog's TextHandler writes them (a group prefixes its keys:
// g.key=value), so a test sees everything a real handler would. The logger is
// enabled at every level, including levels below Debug.
//
// A LogRecorder is safe for concurrent use. Lines logged after the test has
// finished are still recorded, but no longer echoed.
type LogRecorder struct {
	logger *slog.Logger
	echo   *tWriter

	mu    sync.Mutex
	lines []string
}

// NewLogRecorder returns an empty LogRecorder that echoes to t.
func NewLogRecorder(t testing.TB) *LogRecorder {
	r := &LogRecorder{echo: &tWriter{t: t}}
	t.Cleanup(r.echo.close)
	r.logger = slog.New(slog.NewTextHandler(recordWriter{r}, &slog.HandlerOptions{
		Level: slog.Level(math.MinInt),
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	return r
}

// Logger returns the logger whose lines r records.
func (r *LogRecorder) Logger() *slog.Logger { return r.logger }

// Count returns how many lines contain every one of substrs.
func (r *LogRecorder) Count(substrs ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if containsAll(l, substrs) {
			n++
		}
	}
	return n
}

// Find returns nil if some line contains every one of substrs, and otherwise
// an error that quotes substrs and every line recorded so far. It fits
// [Eventually]:
//
//	testenv.Eventually(t, 5*time.Second, func() error { return rec.Find("nats reconnected") })
func (r *LogRecorder) Find(substrs ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if containsAll(l, substrs) {
			return nil
		}
	}
	return fmt.Errorf("no log line contains all of %q; logged so far:\n%s", substrs, strings.Join(r.lines, "\n"))
}

// String returns every line recorded so far, separated by newlines.
func (r *LogRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func containsAll(line string, substrs []string) bool {
	for _, s := range substrs {
		if !strings.Contains(line, s) {
			return false
		}
	}
	return true
}

// recordWriter receives the TextHandler's output. The handler writes each
// record with one Write call, so each call is one line.
type recordWriter struct{ r *LogRecorder }

func (w recordWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	w.r.lines = append(w.r.lines, strings.TrimSuffix(string(p), "\n"))
	w.r.mu.Unlock()
	return w.r.echo.Write(p)
}
