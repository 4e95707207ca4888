package lrps_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
)

const (
	benchLRPs      = 1000
	benchInstances = 10
	benchCells     = 100
)

// BenchmarkConverge runs convergence over 1,000 desired LRPs of 10
// instances each, all RUNNING across 100 cells: in steady state (nothing to
// do), and with 10% of the instances missing (1,000 records created and
// auctioned per pass).
func BenchmarkConverge(b *testing.B) {
	e := newEnv(b)
	e.freshDomain()
	ctx := context.Background()
	for i := range benchLRPs {
		if _, err := e.store.DesireLRP(ctx, desiredLRP(fmt.Sprintf("lrp-%04d", i), benchInstances)); err != nil {
			b.Fatal(err)
		}
	}
	net, err := proto.Marshal(netInfo("cell-1"))
	if err != nil {
		b.Fatal(err)
	}
	e.exec(`UPDATE actual_lrps SET state = 3, routable = true, net_info = $1,
		cell_id = 'cell-' || (abs(hashtext(process_guid || '/' || instance_index)) % $2),
		instance_guid = md5(process_guid || '/' || instance_index)`, net, benchCells)
	in := lrps.ConvergeInput{Cells: map[string]bool{}}
	for i := range benchCells {
		in.Cells[fmt.Sprintf("cell-%d", i)] = true
	}

	b.Run("steady", func(b *testing.B) {
		for b.Loop() {
			res, stats, err := e.store.Converge(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if !res.Empty() || stats.Running != benchLRPs*benchInstances {
				b.Fatalf("steady state: %d events, %+v", len(res.Events), stats)
			}
		}
		b.ReportMetric(benchLRPs*benchInstances, "instances")
	})

	b.Run("missing-10pct", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e.with(b).exec(`DELETE FROM actual_lrps WHERE instance_index = 0`)
			b.StartTimer()
			res, stats, err := e.store.Converge(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			if stats.Missing != benchLRPs || len(res.LRPAuctions) != benchLRPs {
				b.Fatalf("missing: %+v", stats)
			}
		}
		b.ReportMetric(benchLRPs, "created/op")
	})
}

// BenchmarkClaimStart is one instance's claim and start, the two
// transactions every placed instance costs.
func BenchmarkClaimStart(b *testing.B) {
	e := newEnv(b)
	const per = 100
	n := 0
	for b.Loop() {
		guid := fmt.Sprintf("bench-%d", n/per)
		if n%per == 0 {
			e.desire(guid, per)
		}
		e.claim(guid, int32(n%per), "cell-a")
		e.start(guid, int32(n%per), "cell-a")
		n++
	}
}
