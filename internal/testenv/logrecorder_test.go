package testenv_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestLogRecorderLines(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	logger := rec.Logger().With("component", "bbs")
	logger.Info("hello world", "n", 1)
	logger.WithGroup("req").With("id", "r-7").Warn("slow", "took", "2s")
	rec.Logger().Log(context.Background(), slog.LevelDebug-4, "trace")

	want := strings.Join([]string{
		`level=INFO msg="hello world" component=bbs n=1`,
		`level=WARN msg=slow component=bbs req.id=r-7 req.took=2s`,
		`level=DEBUG-4 msg=trace`,
	}, "\n")
	if got := rec.String(); got != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", got, want)
	}
}

func TestLogRecorderCountAndFind(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	if err := rec.Find(); err == nil {
		t.Error("Find on an empty recorder succeeded")
	}
	rec.Logger().Info("nats connected", "url", "nats://127.0.0.1:4222")
	rec.Logger().Warn("nats disconnected", "err", "EOF")
	rec.Logger().Info("nats connected", "url", "nats://127.0.0.1:4223")

	tests := []struct {
		substrs   []string
		wantCount int
	}{
		{[]string{"nats connected"}, 2},
		{[]string{"nats connected", ":4223"}, 1},
		{[]string{"level=WARN", "err="}, 1},
		{[]string{"level=WARN", ":4222"}, 0}, // both present, but not in one line
		{nil, 3},
	}
	for _, tt := range tests {
		if got := rec.Count(tt.substrs...); got != tt.wantCount {
			t.Errorf("Count(%q) = %d, want %d", tt.substrs, got, tt.wantCount)
		}
		err := rec.Find(tt.substrs...)
		if (err == nil) != (tt.wantCount > 0) {
			t.Errorf("Find(%q) = %v, want found %v", tt.substrs, err, tt.wantCount > 0)
		}
	}
	err := rec.Find("hunter2")
	if err == nil || !strings.Contains(err.Error(), `"hunter2"`) || !strings.Contains(err.Error(), "url=nats://127.0.0.1:4223") {
		t.Errorf("Find error %q should quote what was missing and list the lines", err)
	}
}

func TestLogRecorderConcurrent(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { rec.Logger().Info("line", "i", strconv.Itoa(i)) })
	}
	wg.Wait()
	if n := rec.Count("msg=line"); n != 50 {
		t.Errorf("recorded %d lines, want 50", n)
	}
}

func TestLogRecorderOutlivesTest(t *testing.T) {
	t.Parallel()
	var rec *testenv.LogRecorder
	t.Run("test", func(t *testing.T) {
		rec = testenv.NewLogRecorder(t)
		rec.Logger().Info("during")
	})
	// A goroutine of the finished test logs: no t.Log panic, still recorded.
	rec.Logger().Info("after")
	if rec.Count("during") != 1 || rec.Count("after") != 1 {
		t.Errorf("lines:\n%s", rec)
	}
}
