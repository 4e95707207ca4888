package registrar

import (
	"context"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestDaemonRegistersAndUnregisters(t *testing.T) {
	t.Parallel()
	srv := testenv.NATS(t)
	rec := record(t, connect(t, srv.ClientURL()))
	cfg := DaemonConfig{NATS: natsconn.FileConfig{URL: srv.ClientURL()}, Config: staticConfig()}
	cfg.Tags = nil
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewDaemon(cfg, "cloud_controller", testenv.Logger(t)).Run(ctx) }()
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "register api.example.com", 1))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, atLeast(rec, "unregister api.example.com", 1))

	var disabled DaemonConfig
	if disabled.Enabled() || disabled.Validate() != nil {
		t.Error("a section without a NATS URL is not a valid disabled one")
	}
	bad := DaemonConfig{NATS: natsconn.FileConfig{URL: "nats://127.0.0.1:4222"}}
	if bad.Validate() == nil {
		t.Error("an enabled section without a registration validated")
	}
}
