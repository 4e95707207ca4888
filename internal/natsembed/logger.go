package natsembed

import (
	"context"
	"fmt"
	"log/slog"
)

// levelTrace is below slog.LevelDebug; nats trace lines are only ever
// logged if a handler enables it and the server is told to trace.
const levelTrace = slog.LevelDebug - 4

// slogLogger implements the nats-server Logger interface on top of slog.
// Fatalf must not exit the process (the server's own logger would): it logs
// at Error and reports the message on fatal so Start can fail fast.
type slogLogger struct {
	l     *slog.Logger
	fatal chan string // buffered; only the first fatal error is kept
}

func newSlogLogger(l *slog.Logger) *slogLogger {
	return &slogLogger{l: l, fatal: make(chan string, 1)}
}

func (s *slogLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(format, v...))
}

func (s *slogLogger) Noticef(format string, v ...any) { s.log(slog.LevelInfo, format, v) }
func (s *slogLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s *slogLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s *slogLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s *slogLogger) Tracef(format string, v ...any)  { s.log(levelTrace, format, v) }

func (s *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.l.Error(msg, "fatal", true)
	select {
	case s.fatal <- msg:
	default:
	}
}
