package auctioneer_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/auctioneer"
	"github.com/anvilpaas/anvil/internal/testenv"
)

const timeout = 15 * time.Second

// eventuallyCounts waits until the cells took exactly want.
func eventuallyCounts(t *testing.T, c *cluster, want map[string]int) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		if got := c.counts(); !maps.Equal(got, want) {
			return fmt.Errorf("cells took %v, want %v", got, want)
		}
		return nil
	})
}

func TestPlacesAcrossZones(t *testing.T) {
	t.Parallel()
	c := newCluster(t,
		cellSpec{id: "cell-a", zone: "z1", memMB: 16384},
		cellSpec{id: "cell-b", zone: "z2", memMB: 4096},
		cellSpec{id: "cell-c", zone: "z3", memMB: 4096},
	)
	c.requestLRPs(t, start("web", 256, 0, 1, 2, 3, 4, 5))
	eventuallyCounts(t, c, map[string]int{"cell-a": 2, "cell-b": 2, "cell-c": 2})

	// A task goes to the emptiest cell.
	c.requestTasks(t, task("stage", 512, 1024))
	eventuallyCounts(t, c, map[string]int{"cell-a": 3, "cell-b": 2, "cell-c": 2})
	if got := c.reps["cell-a"].took(); !slices.Contains(got, "task stage") {
		t.Errorf("cell-a took %q, want the task", got)
	}
	testenv.Eventually(t, timeout, func() error {
		if got := c.metric(t, "auctioneer_lrp_auctions_started_total"); got != 6 {
			return fmt.Errorf("lrp started = %v", got)
		}
		if got := c.metric(t, "auctioneer_task_auctions_started_total"); got != 1 {
			return fmt.Errorf("task started = %v", got)
		}
		return nil
	})
	if got := c.bbs.reported(); len(got) != 0 {
		t.Errorf("BBS got failures %q", got)
	}
}

func TestRefusedWorkMovesToAnotherCell(t *testing.T) {
	t.Parallel()
	c := newCluster(t,
		cellSpec{id: "draining", zone: "z1", memMB: 65536, refuse: true}, // the emptiest: wins first
		cellSpec{id: "good", zone: "z1", memMB: 4096},
	)
	c.requestLRPs(t, start("web", 256, 0, 1))
	c.requestTasks(t, task("job", 128, 128))
	eventuallyCounts(t, c, map[string]int{"good": 3})
	testenv.Eventually(t, timeout, func() error {
		if got := c.metric(t, "auctioneer_auction_retries_total"); got < 1 {
			return fmt.Errorf("retries = %v", got)
		}
		return nil
	})
	if got := c.bbs.reported(); len(got) != 0 {
		t.Errorf("BBS got failures %q", got)
	}
}

func TestFailuresReportedToBBS(t *testing.T) {
	t.Parallel()
	c := newCluster(t,
		cellSpec{id: "cell-a", zone: "z1", memMB: 1024}, // disk 4096
		cellSpec{id: "cell-b", zone: "z2", memMB: 1024},
	)
	c.requestLRPs(t, start("huge", 2048, 0, 1), start("fits", 256, 0))
	odd := start("odd", 64, 0)
	odd.RootFs = "preloaded:windows2019"
	c.requestLRPs(t, odd)
	c.requestTasks(t, task("diskhog", 128, 8192), task("both", 4096, 8192))

	want := []string{
		"lrp huge 0 cf-apps: insufficient resources: memory",
		"lrp huge 1 cf-apps: insufficient resources: memory",
		"lrp odd 0 cf-apps: found no compatible cell for required rootfs",
		"task both: insufficient resources: disk, memory",
		"task diskhog: insufficient resources: disk",
	}
	testenv.Eventually(t, timeout, func() error {
		if got := c.bbs.reported(); !slices.Equal(got, want) {
			return fmt.Errorf("BBS got\n%q\nwant\n%q", got, want)
		}
		return nil
	})
	eventuallyCounts(t, c, map[string]int{"cell-a": 1})
	testenv.Eventually(t, timeout, func() error {
		lrps, tasks := c.metric(t, "auctioneer_lrp_auctions_failed_total"), c.metric(t, "auctioneer_task_auctions_failed_total")
		if lrps != 3 || tasks != 2 {
			return fmt.Errorf("failed counters: lrp %v, task %v; want 3 and 2", lrps, tasks)
		}
		return nil
	})
}

func TestUnreachableCellSkipped(t *testing.T) {
	t.Parallel()
	c := newCluster(t,
		cellSpec{id: "gone", zone: "z1", unreachable: true},
		cellSpec{id: "here", zone: "z2", memMB: 4096},
	)
	c.requestLRPs(t, start("web", 256, 0, 1, 2))
	eventuallyCounts(t, c, map[string]int{"here": 3})
	if got := c.metric(t, "auctioneer_cell_state_fetch_failures_total"); got < 1 {
		t.Errorf("state fetch failures = %v, want at least 1", got)
	}
	if got := c.bbs.reported(); len(got) != 0 {
		t.Errorf("BBS got failures %q", got)
	}
}

func TestNoCellsAtAll(t *testing.T) {
	t.Parallel()
	c := newCluster(t, cellSpec{id: "gone", zone: "z1", unreachable: true})
	c.requestTasks(t, task("job", 128, 128))
	// Retried max_retries (3) times, one batch window apart, then reported.
	testenv.Eventually(t, timeout, func() error {
		if got, want := c.bbs.reported(), []string{"task job: unable to communicate to compatible cells"}; !slices.Equal(got, want) {
			return fmt.Errorf("BBS got %q, want %q", got, want)
		}
		return nil
	})
	if got := c.metric(t, "auctioneer_auction_retries_total"); got != 3 {
		t.Errorf("retries = %v, want 3", got)
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	c := newCluster(t, cellSpec{id: "cell-a", zone: "z1", memMB: 4096})
	tests := []struct {
		name  string
		start *auctioneerv1.LRPStartRequest
		msg   string
	}{
		{"empty process guid", start("", 256, 0), "process_guid is empty"},
		{"no indices", start("web", 256), "indices is empty"},
		{"negative memory", start("web", -1, 0), "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.client.RequestLRPAuctions(rpcCtx(t), &auctioneerv1.RequestLRPAuctionsRequest{Starts: []*auctioneerv1.LRPStartRequest{tt.start}})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Errorf("err = %v, want InvalidArgument mentioning %q", err, tt.msg)
			}
		})
	}
	t.Run("bad task", func(t *testing.T) {
		t.Parallel()
		tk := task("t", 1, 1)
		tk.Definition = nil
		_, err := c.client.RequestTaskAuctions(rpcCtx(t), &auctioneerv1.RequestTaskAuctionsRequest{Tasks: []*bbsv1.Task{tk}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("err = %v, want InvalidArgument", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	valid := func() auctioneer.Config {
		var cfg auctioneer.Config
		cfg.RPC = p.serverConfig()
		cfg.Ops.Listen = "127.0.0.1:0"
		cfg.BBS.ClientConfig = p.clientConfig("127.0.0.1:1")
		cfg.Rep.ClientConfig = p.clientConfig("")
		return cfg
	}
	tests := []struct {
		name string
		cfg  auctioneer.Config
		deps auctioneer.Deps
		want string
	}{
		{"own registry with a bad bind", func() auctioneer.Config {
			cfg := valid()
			cfg.Registry.Bind = "not-an-address"
			return cfg
		}(), auctioneer.Deps{}, "bind"},
		{"invalid config", auctioneer.Config{}, auctioneer.Deps{Cells: &registry{}}, "bbs: address: required"},
		{"missing certificate files", func() auctioneer.Config {
			cfg := valid()
			cfg.Rep.TLS = nil
			cfg.Rep.CertFile, cfg.Rep.KeyFile, cfg.Rep.CAFile = "/nonexistent/c", "/nonexistent/k", "/nonexistent/ca"
			return cfg
		}(), auctioneer.Deps{Cells: &registry{}}, "auctioneer: rep: load client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := auctioneer.New(tt.cfg, tt.deps); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want error mentioning %q", err, tt.want)
			}
		})
	}
}
