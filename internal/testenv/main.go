package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/pgserver"
)

// mainCalled records that the test binary's TestMain went through Main.
var mainCalled atomic.Bool

// shared is the one Postgres cluster of this test binary.
var shared struct {
	once sync.Once
	srv  *pgserver.Server
	dir  string
	err  error
}

// Main runs the tests of a package and then tears down what they shared:
// call it from TestMain. It does not call os.Exit; when TestMain returns, the
// testing package exits with the tests' result.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	mainCalled.Store(true)
	m.Run()
	stopShared()
	stopContainerd()
}

func stopShared() {
	if shared.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := shared.srv.Stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	if err := os.RemoveAll(shared.dir); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: remove postgres dir: %v\n", err)
	}
}

const dirPrefix = "anvil-testenv-pg-"

// sweepStale removes cluster directories left behind by test binaries that
// died before Main's teardown: no live postmaster and untouched for an hour
// (younger ones may belong to a binary that is still starting up).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		if pid, err := pgserver.RunningPid(dir); err != nil || pid != 0 {
			continue
		}
		os.RemoveAll(dir)
	}
}

// sharedPostgres starts the binary's cluster on first use.
func sharedPostgres() (*pgserver.Server, error) {
	shared.once.Do(func() {
		sweepStale()
		// Not t.TempDir: that is 0700 root, which the postgres user cannot
		// traverse when tests run as root.
		dir, err := os.MkdirTemp(os.TempDir(), dirPrefix)
		if err != nil {
			shared.err = fmt.Errorf("create postgres dir: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, err := pgserver.Start(ctx, pgserver.Config{
			DataDir:       dir,
			NoSync:        true,
			DieWithParent: true,
			Settings:      map[string]string{"max_connections": "200"},
		}, nil)
		if err != nil {
			os.RemoveAll(dir)
			shared.err = err
			return
		}
		shared.srv, shared.dir = srv, dir
	})
	return shared.srv, shared.err
}
