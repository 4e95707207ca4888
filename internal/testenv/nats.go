package testenv

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/natsembed"
)

// NATS starts an embedded NATS server on a random loopback port and shuts it
// down when the test ends. Its warnings and errors go to the test log.
func NATS(t testing.TB) *natsembed.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := natsembed.Start(ctx, natsembed.Config{}, newLogger(t, slog.LevelWarn))
	if err != nil {
		t.Fatalf("testenv: %v", err)
		return nil
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
