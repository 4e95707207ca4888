package web

import (
	"context"
	"testing"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startJobs runs srv's job workers until the test ends.
func startJobs(t testing.TB, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := srv.RunJobs(ctx); err != nil {
			t.Errorf("RunJobs: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-stopped })
}
