// Package logstream turns the output of a process in a container into log
// lines for the rep's log sink, as Diego's executor log streamer does: the
// output is cut into lines (at "\n" or "\r"; empty lines are dropped), a
// line longer than MaxMessageBytes is split into several messages at a
// UTF-8 boundary, and every message of one instance, stdout and stderr
// together, is subject to the instance's log rate limit.
//
// A Streamer belongs to one instance or task. Its Stdout and Stderr writers
// may be written to from different goroutines; each keeps its own partial
// line, which Flush emits when the process has exited.
package logstream

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxMessageBytes bounds one log message; longer lines are split.
const MaxMessageBytes = 64 * 1024

// overageWindow is how long messages are dropped after the rate limit was
// exceeded, during which the overage is not reported again (Diego's
// LogRateLimitExceededLogInterval).
const overageWindow = time.Second

// Stream is the output stream a line came from.
type Stream int

const (
	// Stdout is the process's standard output (loggregator's OUT).
	Stdout Stream = iota + 1
	// Stderr is its standard error (ERR).
	Stderr
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("Stream(%d)", int(s))
}

// Line is one log message of an app instance or task.
type Line struct {
	// AppID is the LRP's or task's log_guid (the app guid in Cloud
	// Foundry), the envelope's source_id.
	AppID string
	// SourceType is the RunAction's log_source ("APP/PROC/WEB",
	// "APP/TASK/migrate", "STG") or "CELL" for the rep's own messages.
	SourceType string
	// InstanceIndex is the LRP instance's index (0 for tasks).
	InstanceIndex int32
	Message       string
	Stream        Stream
	Timestamp     time.Time
	// Tags are the LRP's or task's metric tags. Shared: do not modify.
	Tags map[string]string
}

// Sink receives log lines. EmitLog must not block for long: it is called
// from the goroutine that copies the process's output, and a slow sink
// slows the app's writes.
type Sink interface {
	EmitLog(ctx context.Context, line Line)
}

// Discard is a Sink that drops every line.
type Discard struct{}

// EmitLog does nothing.
func (Discard) EmitLog(context.Context, Line) {}

// Clock tells the time; the rate limit and timestamps use it.
type Clock interface {
	Now() time.Time
}

// Source identifies whose output a Streamer carries.
type Source struct {
	AppID         string
	SourceType    string
	InstanceIndex int32
	Tags          map[string]string
}

// Config configures a Streamer.
type Config struct {
	Source Source
	// RateLimit is the log rate limit in bytes per second: negative means
	// unlimited, 0 drops every message (Diego's semantics).
	RateLimit int64
	// Suppress drops the process's output entirely (RunAction's
	// suppress_log_output); System messages are still emitted.
	Suppress bool
	Sink     Sink
	Clock    Clock
}

// Streamer carries one instance's output to a Sink.
type Streamer struct {
	ctx    context.Context
	src    Source
	sink   Sink
	clock  Clock
	limit  *limiter
	out    *writer
	err    *writer
	supp   bool
	mu     sync.Mutex // serializes limiter use and emission order
	closed bool
}

// New returns a Streamer. ctx is passed to the sink with every line (the
// writers are io.Writers and have no ctx of their own).
func New(ctx context.Context, cfg Config) *Streamer {
	if cfg.Sink == nil {
		cfg.Sink = Discard{}
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	s := &Streamer{
		ctx:   ctx,
		src:   cfg.Source,
		sink:  cfg.Sink,
		clock: cfg.Clock,
		limit: newLimiter(cfg.RateLimit, cfg.Clock.Now()),
		supp:  cfg.Suppress,
	}
	s.out = &writer{s: s, stream: Stdout}
	s.err = &writer{s: s, stream: Stderr}
	return s
}

// Stdout returns the writer for the process's standard output.
func (s *Streamer) Stdout() io.Writer {
	if s.supp {
		return io.Discard
	}
	return s.out
}

// Stderr returns the writer for the process's standard error.
func (s *Streamer) Stderr() io.Writer {
	if s.supp {
		return io.Discard
	}
	return s.err
}

// System emits a message of the rep's own about the instance ("Container
// became healthy") with the given source type, bypassing the rate limit
// (Diego rate-limits these too, and calls that a bug in a TODO).
func (s *Streamer) System(sourceType string, stream Stream, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.emitLocked(sourceType, stream, msg)
}

// Flush emits the partial lines of both streams, once the process has
// exited.
func (s *Streamer) Flush() {
	s.out.flush()
	s.err.flush()
}

// Close flushes and stops emitting: output written later (a process
// still writing after its container was abandoned) is dropped.
func (s *Streamer) Close() {
	s.Flush()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// message applies the rate limit to one message of the process's output
// and emits it.
func (s *Streamer) message(stream Stream, msg string) {
	if msg == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	ok, report := s.limit.allow(s.clock.Now(), len(msg))
	if report {
		s.emitLocked(s.src.SourceType, Stdout,
			fmt.Sprintf("app instance exceeded log rate limit (%d bytes/sec)", s.limit.rate))
	}
	if ok {
		s.emitLocked(s.src.SourceType, stream, msg)
	}
}

func (s *Streamer) emitLocked(sourceType string, stream Stream, msg string) {
	s.sink.EmitLog(s.ctx, Line{
		AppID:         s.src.AppID,
		SourceType:    sourceType,
		InstanceIndex: s.src.InstanceIndex,
		Message:       msg,
		Stream:        stream,
		Timestamp:     s.clock.Now(),
		Tags:          s.src.Tags,
	})
}

// writer cuts one stream into messages.
type writer struct {
	s      *Streamer
	stream Stream
	mu     sync.Mutex
	buf    []byte
}

// Write never fails: a process's output is never pushed back on.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := indexNewline(p)
		if i < 0 {
			w.append(p)
			break
		}
		w.append(p[:i])
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

// append adds b to the partial line, emitting full messages whenever the
// buffer reaches MaxMessageBytes.
func (w *writer) append(b []byte) {
	for len(b) > 0 {
		room := MaxMessageBytes - len(w.buf)
		if len(b) < room {
			w.buf = append(w.buf, b...)
			return
		}
		w.buf = append(w.buf, b[:room]...)
		b = b[room:]
		// Cut at a rune boundary: carry an incomplete trailing rune over
		// to the next message.
		cut := utf8Cut(w.buf)
		carry := append([]byte(nil), w.buf[cut:]...)
		w.buf = w.buf[:cut]
		w.emit()
		w.buf = append(w.buf, carry...)
	}
}

func (w *writer) emit() {
	if len(w.buf) == 0 {
		return
	}
	msg := string(w.buf)
	w.buf = w.buf[:0]
	w.s.message(w.stream, msg)
}

func (w *writer) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit()
}

func indexNewline(p []byte) int {
	for i, c := range p {
		if c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// utf8Cut returns where to cut b so that the first part does not end in
// the middle of a rune: len(b), or the start of a trailing incomplete
// rune. Invalid bytes are not runes and are cut anywhere.
func utf8Cut(b []byte) int {
	// A rune is at most 4 bytes; look at the last 3 for a start byte.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			return len(b) // ASCII: complete
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			if i == 0 {
				return len(b) // nothing before it; cutting would loop
			}
			return i
		}
	}
	return len(b)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
