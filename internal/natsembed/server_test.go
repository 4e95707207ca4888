package natsembed_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/anvilpaas/anvil/internal/natsembed"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func start(t *testing.T, cfg natsembed.Config, logger *slog.Logger) *natsembed.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := natsembed.Start(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestStartPubSubShutdown(t *testing.T) {
	t.Parallel()
	rec := testenv.NewLogRecorder(t)
	s := start(t, natsembed.Config{}, rec.Logger())
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || s.Port() == 0 {
		t.Fatalf("ClientURL() = %q, Port() = %d", s.ClientURL(), s.Port())
	}
	if err := rec.Find("level=INFO", "Server is ready"); err != nil {
		t.Errorf("server notices were not logged at Info: %v", err)
	}

	nc := connect(t, s.ClientURL())
	sub, err := nc.SubscribeSync("hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("hello", []byte("world")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("NextMsg: %v", err)
	}
	if string(msg.Data) != "world" {
		t.Fatalf("got %q, want world", msg.Data)
	}
	if n := s.NumClients(); n != 1 {
		t.Errorf("NumClients() = %d, want 1", n)
	}

	s.Shutdown()
	s.Shutdown() // idempotent
	s.WaitForShutdown()
	if _, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())), time.Second); err == nil {
		t.Fatal("port still accepting connections after Shutdown")
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	began := time.Now()
	_, err = natsembed.Start(ctx, natsembed.Config{Port: l.Addr().(*net.TCPAddr).Port}, nil)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v, want address already in use", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("took %v to fail: should fail fast", d)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := start(t, natsembed.Config{User: "anvil", Password: "s3cret"}, nil)
	tests := []struct {
		name    string
		opts    []nats.Option
		wantErr bool
	}{
		{"no credentials", nil, true},
		{"wrong password", []nats.Option{nats.UserInfo("anvil", "nope")}, true},
		{"right credentials", []nats.Option{nats.UserInfo("anvil", "s3cret")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, err := nats.Connect(s.ClientURL(), tt.opts...)
			if err == nil {
				nc.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	if _, err := natsembed.Start(t.Context(), natsembed.Config{User: "only-user"}, nil); err == nil {
		t.Error("Start with a user but no password succeeded")
	}
}

func TestJetStream(t *testing.T) {
	t.Parallel()
	s := start(t, natsembed.Config{StoreDir: t.TempDir()}, nil)
	js, err := jetstream.New(connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "events.one", []byte("1")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}
