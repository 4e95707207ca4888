// Package logging builds the structured JSON logger every Anvil daemon uses.
//
// There is no global logger: a daemon's main builds one with New and passes
// it into constructors, each component adding its own attributes with With.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Config is the logging section of a daemon's configuration.
type Config struct {
	// Level is one of debug, info, warn, error. Empty means info.
	Level string `yaml:"level"`
}

// Validate reports an unknown level.
func (c Config) Validate() error {
	_, err := ParseLevel(c.Level)
	return err
}

// ParseLevel converts a level name to a slog.Level. Empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// Logger is a daemon's root logger and the level it can change at run time
// (on SIGHUP, for instance).
type Logger struct {
	*slog.Logger
	Level *slog.LevelVar
}

// New returns a JSON logger writing to w with attribute component=name.
func New(w io.Writer, component string, cfg Config) (Logger, error) {
	lvl, err := ParseLevel(cfg.Level)
	if err != nil {
		return Logger{}, err
	}
	v := new(slog.LevelVar)
	v.Set(lvl)
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: v})
	return Logger{Logger: slog.New(h).With("component", component), Level: v}, nil
}

// Discard returns a logger that drops everything, for tests that do not care.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
