package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level     string
		debugSeen bool
		wantErr   bool
	}{
		{level: "", debugSeen: false},
		{level: "debug", debugSeen: true},
		{level: "WARN", debugSeen: false},
		{level: "loud", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := New(&buf, "uaa", Config{Level: tt.level})
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error for an unknown level")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("d")
			l.Error("e", "k", 1)
			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			wantLines := 1
			if tt.debugSeen {
				wantLines = 2
			}
			if len(lines) != wantLines {
				t.Fatalf("got %d lines, want %d: %s", len(lines), wantLines, buf.String())
			}
			var rec map[string]any
			if err := json.Unmarshal(lines[len(lines)-1], &rec); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if rec["component"] != "uaa" || rec["msg"] != "e" {
				t.Fatalf("unexpected record %v", rec)
			}
		})
	}
}

func TestLevelChange(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "x", Config{})
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Level.Set(slog.LevelDebug)
	l.Debug("shown")
	if bytes.Contains(buf.Bytes(), []byte("hidden")) || !bytes.Contains(buf.Bytes(), []byte("shown")) {
		t.Fatalf("level change not applied: %s", buf.String())
	}
}
