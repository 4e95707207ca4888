package cellregistry

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// logBridge is the io.Writer behind memberlist's *log.Logger (created with
// no prefix and no flags, so each Write is one "[LEVEL] memberlist: …"
// line). It re-logs each line through slog, with lib=memberlist, so that
// memberlist never writes to stderr itself. DEBUG and INFO become Debug;
// WARN and ERR become Warn, because memberlist reports ordinary events such
// as an unreachable peer as ERR, and the registry logs what matters (joins,
// failures) itself. Once closing is set (memberlist is being shut down),
// everything is Debug: memberlist's goroutines then report their closed
// sockets.
type logBridge struct {
	logger  *slog.Logger
	closing *atomic.Bool
}

func (b logBridge) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if tag, msg, ok := strings.Cut(rest, "]"); ok {
			switch tag {
			case "WARN", "ERR", "ERROR":
				level = slog.LevelWarn
			}
			line = strings.TrimSpace(msg)
		}
	}
	if b.closing != nil && b.closing.Load() {
		level = slog.LevelDebug
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	b.logger.Log(context.Background(), level, line, "lib", "memberlist")
	return len(p), nil
}
