package testenv_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestPostgres is deliberately first and not parallel: it is the test that
// starts the shared cluster, so it measures the start-up time.
func TestPostgres(t *testing.T) {
	began := time.Now()
	dsn := testenv.Postgres(t)
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Postgres took %v, want well under 10s", d)
	} else {
		t.Logf("Postgres ready in %v", d)
	}

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"CREATE TABLE apps (id serial PRIMARY KEY, name text NOT NULL)",
		"INSERT INTO apps (name) VALUES ('dora'), ('spring-music')",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var names []string
	rows, err := conn.Query(ctx, "SELECT name FROM apps ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[dora spring-music]" {
		t.Fatalf("names = %v", names)
	}
}

func TestPostgresDatabasesAreIsolatedAndDropped(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		dsns = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				dsn := testenv.Postgres(t)
				mu.Lock()
				dsns[dsn] = true
				mu.Unlock()
				conn, err := pgx.Connect(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				// Same table name in every database: no clash.
				if _, err := conn.Exec(t.Context(), "CREATE TABLE same_name (v int)"); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	if len(dsns) != 3 {
		t.Fatalf("got %d distinct DSNs, want 3", len(dsns))
	}

	// The subtests are over, so their databases must be gone.
	admin := testenv.Postgres(t)
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for dsn := range dsns {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", cfg.Database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test ended", cfg.Database)
		}
	}
}

func TestNATS(t *testing.T) {
	t.Parallel()
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("ping")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("ping", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "pong" {
		t.Fatalf("got %q", msg.Data)
	}
	if other := testenv.NATS(t); other.Port() == s.Port() {
		t.Fatal("two NATS calls share a port")
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("FreePort %d is not free: %v", port, err)
	}
	l.Close()
}

func TestEventually(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failFirst  int // f fails this many times, then succeeds
		timeout    time.Duration
		wantFatal  bool
		wantCalled func(int) bool
	}{
		{name: "immediately", failFirst: 0, timeout: time.Second, wantCalled: func(n int) bool { return n == 1 }},
		{name: "after a few tries", failFirst: 3, timeout: 5 * time.Second, wantCalled: func(n int) bool { return n == 4 }},
		{
			name: "never", failFirst: 1 << 30, timeout: 100 * time.Millisecond, wantFatal: true,
			wantCalled: func(n int) bool { return n > 2 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ft := &fakeTB{TB: t}
			calls := 0
			began := time.Now()
			testenv.Eventually(ft, tt.timeout, func() error {
				calls++
				if calls <= tt.failFirst {
					return fmt.Errorf("attempt %d failed", calls)
				}
				return nil
			})
			if ft.fatal != tt.wantFatal {
				t.Fatalf("Fatalf called = %v, want %v (msg %q)", ft.fatal, tt.wantFatal, ft.msg)
			}
			if !tt.wantCalled(calls) {
				t.Errorf("f called %d times", calls)
			}
			if tt.wantFatal {
				// The last error is reported, not the first.
				if last := fmt.Sprintf("attempt %d failed", calls); !strings.Contains(ft.msg, last) {
					t.Errorf("Fatalf message %q does not carry the last error %q", ft.msg, last)
				}
				if d := time.Since(began); d > tt.timeout+time.Second {
					t.Errorf("gave up after %v, timeout was %v", d, tt.timeout)
				}
			}
		})
	}
}

// fakeTB records Fatalf instead of stopping the goroutine, and Errorf
// instead of failing, so a test can check that a helper fails when it
// should. Everything else goes to the real TB.
type fakeTB struct {
	testing.TB
	fatal bool
	msg   string
	errs  []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = true
	f.msg = fmt.Sprintf(format, args...)
}
