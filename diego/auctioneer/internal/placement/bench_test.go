package placement

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkPlace places 10,000 LRP instances (1,000 processes × 10) on
// 100 cells in 3 zones that already run some work: the size the
// auctioneer must handle in well under 10 s.
func BenchmarkPlace(b *testing.B) {
	cells, work := fleet(rand.New(rand.NewPCG(1, 1)), 100, 3, 1000, 10, 0)
	opts := Options{StartingContainerWeight: 0.25}
	var worst time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		res := Place(cells, work, opts)
		worst = max(worst, time.Since(start))
		if len(res.Failures) > 0 {
			b.Fatalf("%d failures, first: %+v", len(res.Failures), res.Failures[0])
		}
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}
