package logstream

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// recorder is a Sink that keeps the lines.
type recorder struct {
	mu    sync.Mutex
	lines []Line
}

func (r *recorder) EmitLog(_ context.Context, l Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		out = append(out, fmt.Sprintf("%s %s %s", l.SourceType, l.Stream, l.Message))
	}
	return out
}

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStreamer(rate int64) (*Streamer, *recorder, *clock) {
	rec := &recorder{}
	clk := &clock{now: time.Unix(1700000000, 0)}
	s := New(context.Background(), Config{
		Source:    Source{AppID: "app-guid", SourceType: "APP/PROC/WEB", InstanceIndex: 3, Tags: map[string]string{"app_name": "web"}},
		RateLimit: rate,
		Sink:      rec,
		Clock:     clk,
	})
	return s, rec, clk
}

func TestLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"hello\n"}, []string{"hello"}},
		{"split across writes", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"carriage returns and empty lines", []string{"a\r\n\nb\rc\n"}, []string{"a", "b", "c"}},
		{"partial line flushed", []string{"no newline"}, []string{"no newline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, rec, _ := newStreamer(-1)
			for _, w := range tt.writes {
				if _, err := io.WriteString(s.Stdout(), w); err != nil {
					t.Fatal(err)
				}
			}
			s.Flush()
			var want []string
			for _, m := range tt.want {
				want = append(want, "APP/PROC/WEB stdout "+m)
			}
			if got := rec.messages(); !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestLineFields(t *testing.T) {
	t.Parallel()
	s, rec, clk := newStreamer(-1)
	io.WriteString(s.Stderr(), "oops\n")
	s.System("CELL", Stdout, "Container became healthy")
	if len(rec.lines) != 2 {
		t.Fatalf("got %d lines", len(rec.lines))
	}
	l := rec.lines[0]
	if l.AppID != "app-guid" || l.InstanceIndex != 3 || l.Stream != Stderr || l.Message != "oops" ||
		!l.Timestamp.Equal(clk.Now()) || l.Tags["app_name"] != "web" {
		t.Errorf("line = %+v", l)
	}
	if l := rec.lines[1]; l.SourceType != "CELL" || l.Message != "Container became healthy" {
		t.Errorf("system line = %+v", l)
	}
}

func TestLongLinesSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want []int // message lengths
	}{
		{"exactly the maximum", strings.Repeat("a", MaxMessageBytes), []int{MaxMessageBytes}},
		{"one byte over", strings.Repeat("a", MaxMessageBytes+1), []int{MaxMessageBytes, 1}},
		{"three messages", strings.Repeat("b", 2*MaxMessageBytes+10), []int{MaxMessageBytes, MaxMessageBytes, 10}},
		// A 3-byte rune straddling the boundary moves to the next message.
		{"rune at the boundary", strings.Repeat("a", MaxMessageBytes-1) + "€" + "z", []int{MaxMessageBytes - 1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, rec, _ := newStreamer(-1)
			io.WriteString(s.Stdout(), tt.line+"\n")
			var got []int
			var joined strings.Builder
			for _, l := range rec.lines {
				got = append(got, len(l.Message))
				if !utf8.ValidString(l.Message) {
					t.Errorf("message of %d bytes is not valid UTF-8", len(l.Message))
				}
				joined.WriteString(l.Message)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("message lengths %v, want %v", got, tt.want)
			}
			if joined.String() != tt.line {
				t.Error("messages do not join to the line")
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	s, rec, clk := newStreamer(100)
	line := strings.Repeat("x", 59)
	const exceeded = "APP/PROC/WEB stdout app instance exceeded log rate limit (100 bytes/sec)"

	io.WriteString(s.Stdout(), line+"\n") // 59 of 100
	io.WriteString(s.Stdout(), line+"\n") // over: reported, dropped
	io.WriteString(s.Stderr(), "x\n")     // within the window: dropped silently
	clk.advance(999 * time.Millisecond)
	io.WriteString(s.Stdout(), "y\n") // still within the window
	want := []string{"APP/PROC/WEB stdout " + line, exceeded}
	if got := rec.messages(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	clk.advance(time.Millisecond) // window over; the bucket refilled
	io.WriteString(s.Stdout(), line+"\n")
	io.WriteString(s.Stdout(), line+"\n") // over again: reported once more
	want = append(want, "APP/PROC/WEB stdout "+line, exceeded)
	if got := rec.messages(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRateLimitZeroAndUnlimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rate int64
		want int
	}{
		{"zero drops everything silently", 0, 0},
		{"negative is unlimited", -1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, rec, _ := newStreamer(tt.rate)
			for range 100 {
				io.WriteString(s.Stdout(), strings.Repeat("z", 1000)+"\n")
			}
			if got := len(rec.messages()); got != tt.want {
				t.Errorf("%d messages, want %d", got, tt.want)
			}
		})
	}
}

func TestSuppressAndClose(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := New(context.Background(), Config{Source: Source{SourceType: "APP/PROC/WEB"}, RateLimit: -1, Suppress: true, Sink: rec})
	io.WriteString(s.Stdout(), "secret\n")
	s.System("CELL", Stdout, "visible")
	s.Close()
	s.System("CELL", Stdout, "after close")
	if got, want := rec.messages(), []string{"CELL stdout visible"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	s, rec, _ := newStreamer(-1)
	var wg sync.WaitGroup
	for _, w := range []io.Writer{s.Stdout(), s.Stderr()} {
		wg.Go(func() {
			for range 200 {
				io.WriteString(w, "line\n")
			}
		})
	}
	wg.Wait()
	if got := len(rec.messages()); got != 400 {
		t.Errorf("%d messages, want 400", got)
	}
}
