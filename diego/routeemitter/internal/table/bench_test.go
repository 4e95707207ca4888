package table

import (
	"fmt"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// BenchmarkReplace10k lists 1,000 apps of 10 instances, each with two
// routes, into a table that already holds them: the cost of a periodic
// full sync with nothing changed.
func BenchmarkReplace10k(b *testing.B) {
	var infos []*bbsv1.DesiredLRPSchedulingInfo
	var actuals []*bbsv1.ActualLRP
	for app := range 1000 {
		guid := fmt.Sprintf("app-%d", app)
		infos = append(infos, desiredInfo(guid, fmt.Sprintf(`[{"hostnames":["%s.example.com","%s.apps.internal"],"port":8080}]`, guid, guid), 0))
		for i := range int32(10) {
			actuals = append(actuals, actual(guid, i, fmt.Sprintf("%s-%d", guid, i), running, true, 0))
		}
	}
	tb := New(Options{}, nil)
	if ch := tb.Replace(infos, actuals); len(ch.Register) != 20_000 {
		b.Fatalf("%d registrations", len(ch.Register))
	}
	b.ReportAllocs()
	for b.Loop() {
		if ch := tb.Replace(infos, actuals); !ch.Empty() {
			b.Fatal("changes on an identical listing")
		}
	}
}

// BenchmarkSetActual is one instance event in a table of 10,000.
func BenchmarkSetActual(b *testing.B) {
	tb := New(Options{}, nil)
	for app := range 1000 {
		guid := fmt.Sprintf("app-%d", app)
		tb.SetDesired(desiredInfo(guid, fmt.Sprintf(`[{"hostnames":["%s.example.com"],"port":8080}]`, guid), 0))
		for i := range int32(10) {
			tb.SetActual(actual(guid, i, fmt.Sprintf("%s-%d", guid, i), running, true, 0))
		}
	}
	up := actual("app-7", 3, "app-7-3", running, true, 1)
	down := actual("app-7", 3, "app-7-3", running, false, 2)
	b.ReportAllocs()
	for b.Loop() {
		up.ModificationTag.Index, down.ModificationTag.Index = 0, 0
		tb.SetActual(down)
		tb.SetActual(up)
	}
}
