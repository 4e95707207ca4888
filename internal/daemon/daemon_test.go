package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
)

type testConfig struct {
	Listen  string         `yaml:"listen"`
	Logging logging.Config `yaml:"logging"`
}

func (c *testConfig) Defaults() {}
func (c *testConfig) Validate() error {
	var p config.Problems
	p.Require("listen", c.Listen)
	p.Add("logging", c.Logging.Validate())
	return p.Err()
}
func (c *testConfig) LoggingConfig() logging.Config { return c.Logging }

func TestMainFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yml", "listen: 127.0.0.1:1\n")
	bad := write("bad.yml", "logging: {level: loud}\n")
	boom := errors.New("boom")
	tests := []struct {
		name     string
		args     []string
		runErr   error
		wantCode int
		wantOut  string
		wantErr  string
		wantRun  bool
	}{
		{name: "no config flag", args: nil, wantCode: 2, wantErr: "-config is required"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "invalid config reports every problem", args: []string{"-config", bad}, wantCode: 2, wantErr: "listen is required"},
		{name: "check-config ok", args: []string{"-config", good, "-check-config"}, wantCode: 0, wantOut: "is valid"},
		{name: "check-config bad", args: []string{"-config", bad, "-check-config"}, wantCode: 2, wantErr: "unknown log level"},
		{name: "run ok", args: []string{"-config", good}, wantCode: 0, wantRun: true, wantErr: `"msg":"stopped"`},
		{name: "run fails", args: []string{"-config", good}, runErr: boom, wantCode: 1, wantRun: true, wantErr: `"err":"boom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			var cfg testConfig
			ran := false
			code := mainWith("testd", &cfg, tt.args, &out, &errb, func(ctx context.Context, logger *slog.Logger) error {
				ran = true
				if cfg.Listen != "127.0.0.1:1" {
					t.Errorf("config not loaded: %+v", cfg)
				}
				return tt.runErr
			})
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %s)", code, tt.wantCode, errb.String())
			}
			if ran != tt.wantRun {
				t.Errorf("ran = %v, want %v", ran, tt.wantRun)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
}

func TestReloadLevel(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte("logging: {level: debug}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l, err := logging.New(&buf, "x", logging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reloadLevel(path, l)
	if l.Level.Level() != slog.LevelDebug {
		t.Fatalf("level %v after reload, want debug", l.Level.Level())
	}
}
