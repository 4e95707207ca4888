package pg_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
)

// recorder is a slog.Handler that keeps records for assertions.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, b.String())
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	// Good enough for tests: keep the attrs in the message text.
	return &prefixed{r: r, prefix: slog.GroupValue(as...).String()}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

type prefixed struct {
	r      *recorder
	prefix string
}

func (p *prefixed) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (p *prefixed) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(slog.String("with", p.prefix))
	return p.r.Handle(ctx, rec)
}
func (p *prefixed) WithAttrs(as []slog.Attr) slog.Handler { return p }
func (p *prefixed) WithGroup(string) slog.Handler         { return p }

func (r *recorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// forward accepts connections on l and pipes each to target, until the test
// ends.
func forward(t *testing.T, l net.Listener, target string) {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() {
					io.Copy(up, c)
					up.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				io.Copy(c, up)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
}
