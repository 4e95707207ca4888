package natsconn_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/natsembed"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func startNATS(t *testing.T, port int) *natsembed.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := natsembed.Start(ctx, natsembed.Config{Port: port}, nil)
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, cfg natsconn.Config, logger *slog.Logger) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// roundTrip publishes on a fresh subject and waits for sub to receive it.
func roundTrip(nc *nats.Conn, sub *nats.Subscription, payload string) error {
	if err := nc.Publish(sub.Subject, []byte(payload)); err != nil {
		return err
	}
	for {
		msg, err := sub.NextMsg(time.Second)
		if err != nil {
			return err
		}
		if string(msg.Data) == payload {
			return nil
		}
	}
}

func TestConnectPubSub(t *testing.T) {
	t.Parallel()
	s := testenv.NATS(t)
	rec := testenv.NewLogRecorder(t)
	nc := connect(t, natsconn.Config{URL: s.ClientURL(), Name: "test-client"}, rec.Logger())
	sub, err := nc.SubscribeSync("greetings")
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(nc, sub, "hi"); err != nil {
		t.Fatal(err)
	}
	if err := rec.Find("nats connected", "url="+s.ClientURL()); err != nil {
		t.Error(err)
	}
	nc.Close()
	testenv.Eventually(t, 5*time.Second, func() error { return rec.Find("nats connection closed") })
}

func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	s := startNATS(t, port)
	rec := testenv.NewLogRecorder(t)
	nc := connect(t, natsconn.Config{URL: s.ClientURL()}, rec.Logger())
	sub, err := nc.SubscribeSync("events")
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(nc, sub, "before"); err != nil {
		t.Fatal(err)
	}

	s.Shutdown()
	s.WaitForShutdown()
	testenv.Eventually(t, 5*time.Second, func() error {
		if nc.IsConnected() {
			return errors.New("still connected")
		}
		return rec.Find("level=WARN", "nats disconnected", "err=")
	})

	var s2 *natsembed.Server
	testenv.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var err error
		s2, err = natsembed.Start(ctx, natsembed.Config{Port: port}, nil)
		return err
	})
	t.Cleanup(s2.Shutdown)

	testenv.Eventually(t, 10*time.Second, func() error {
		if !nc.IsConnected() {
			return fmt.Errorf("status %v", nc.Status())
		}
		return rec.Find("nats reconnected", "url=nats://127.0.0.1:"+strconv.Itoa(port))
	})
	// The subscription is restored on the new server.
	testenv.Eventually(t, 10*time.Second, func() error { return roundTrip(nc, sub, "after") })
}

func TestConnectBeforeServerStarts(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	rec := testenv.NewLogRecorder(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsconn.Connect(ctx, natsconn.Config{URL: "nats://127.0.0.1:" + strconv.Itoa(port)}, rec.Logger())
		done <- result{nc, err}
	}()
	// Let it fail at least once, so this really tests retrying.
	testenv.Eventually(t, 10*time.Second, func() error { return rec.Find("nats connect attempt failed") })
	select {
	case r := <-done:
		t.Fatalf("Connect returned before the server started: %v", r.err)
	default:
	}
	startNATS(t, port)
	r := <-done
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	defer r.nc.Close()
	if !r.nc.IsConnected() {
		t.Fatalf("Connect returned a connection in state %v", r.nc.Status())
	}
}

func TestConnectGivesUp(t *testing.T) {
	t.Parallel()
	url := "nats://anvil:hunter2@127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	rec := testenv.NewLogRecorder(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := natsconn.Connect(ctx, natsconn.Config{URL: url}, rec.Logger())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want the last connection error in it", err)
	}
	testenv.Eventually(t, 5*time.Second, func() error { return rec.Find("nats connection closed") })
	if rec.Count("hunter2") != 0 {
		t.Errorf("password leaked into the log")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password leaked into the error: %v", err)
	}
}

func TestConnectFailsOverAcrossURLs(t *testing.T) {
	t.Parallel()
	dead := "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	live := testenv.NATS(t)
	nc := connect(t, natsconn.Config{URL: dead + ", " + live.ClientURL()}, nil)
	if got := nc.ConnectedUrl(); got != live.ClientURL() {
		t.Fatalf("connected to %s, want %s", got, live.ClientURL())
	}
}

func TestConnectWithCredentials(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := natsembed.Start(ctx, natsembed.Config{User: "rep", Password: "pw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	connect(t, natsconn.Config{URL: s.ClientURL(), User: "rep", Password: "pw"}, nil)

	short, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if nc, err := natsconn.Connect(short, natsconn.Config{URL: s.ClientURL(), User: "rep", Password: "wrong"}, nil); err == nil {
		nc.Close()
		t.Fatal("Connect with a wrong password succeeded")
	}
}

func TestConnectRequiresURL(t *testing.T) {
	t.Parallel()
	if _, err := natsconn.Connect(t.Context(), natsconn.Config{}, nil); err == nil {
		t.Fatal("Connect without a URL succeeded")
	}
}
