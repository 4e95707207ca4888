package lrps_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/db"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	unclaimed = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED
	claimed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
	running   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	crashed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED

	ordinary   = bbsv1.Presence_PRESENCE_ORDINARY
	evacuating = bbsv1.Presence_PRESENCE_EVACUATING
	suspect    = bbsv1.Presence_PRESENCE_SUSPECT

	domain = "cf-apps"
)

// Error types the tests expect.
const (
	errNone       = bbsv1.ErrorType_ERROR_TYPE_UNSPECIFIED
	errNotFound   = bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND
	errExists     = bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS
	errConflict   = bbsv1.ErrorType_ERROR_TYPE_RESOURCE_CONFLICT
	errInvalid    = bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST
	errTransition = bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a migrated database with a store on a fake clock.
type env struct {
	t     testing.TB
	pool  *pgxpool.Pool
	store *lrps.Store
	clock *fakeClock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Migrate(ctx, pool, db.Migrations(), nil); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	store := lrps.New(pool, lrps.Options{Clock: clock.Now, Logger: testenv.Logger(t)})
	return &env{t: t, pool: pool, store: store, clock: clock}
}

func desiredLRP(guid string, instances int32) *bbsv1.DesiredLRP {
	return &bbsv1.DesiredLRP{
		ProcessGuid: guid,
		Domain:      domain,
		Instances:   instances,
		RootFs:      "preloaded:cflinuxfs4",
		MemoryMb:    256,
		DiskMb:      1024,
		Ports:       []uint32{8080},
		Routes:      map[string][]byte{"cf-router": []byte(`[{"hostnames":["app.example.com"],"port":8080}]`)},
		Setup:       []*bbsv1.DownloadAction{{Artifact: "droplet", From: "http://blobstore/droplet", To: "/home/vcap"}},
		Action:      &bbsv1.RunAction{Path: "/home/vcap/app/start", User: "vcap"},
		LogGuid:     guid,
		MetricTags:  map[string]string{"app": guid},
		PlacementTags: []string{
			"isolation-segment-a",
		},
	}
}

func ik(cell string) *bbsv1.ActualLRPInstanceKey {
	return &bbsv1.ActualLRPInstanceKey{InstanceGuid: "ig-" + cell, CellId: cell}
}

func lrpKey(guid string, index int32) *bbsv1.ActualLRPKey {
	return &bbsv1.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain}
}

func netInfo(cell string) *bbsv1.ActualLRPNetInfo {
	return &bbsv1.ActualLRPNetInfo{
		Address:          "10.0.0." + strings.TrimPrefix(cell, "cell-"),
		Ports:            []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000}},
		InstanceAddress:  "10.255.0.2",
		PreferredAddress: "HOST",
	}
}

func startReq(guid string, index int32, cell string) lrps.StartRequest {
	return lrps.StartRequest{Key: lrpKey(guid, index), InstanceKey: ik(cell), NetInfo: netInfo(cell), Routable: true, Zone: "z1"}
}

// must returns v after failing the test on err: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantErr checks err's BBS error type (errNone: no error).
func wantErr(t testing.TB, err error, want bbsv1.ErrorType) {
	t.Helper()
	if want == errNone {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := bbsv1.ErrorTypeOf(err); got != want {
		t.Fatalf("error = %v (%v), want %v", err, got, want)
	}
}

func (e *env) desire(guid string, n int32) models.Result {
	e.t.Helper()
	return must(e.store.DesireLRP(context.Background(), desiredLRP(guid, n)))(e.t)
}

func (e *env) claim(guid string, index int32, cell string) models.Result {
	e.t.Helper()
	return must(e.store.ClaimActualLRP(context.Background(), guid, index, ik(cell)))(e.t)
}

func (e *env) start(guid string, index int32, cell string) models.Result {
	e.t.Helper()
	return must(e.store.StartActualLRP(context.Background(), startReq(guid, index, cell)))(e.t)
}

func (e *env) crash(guid string, index int32, cell string) models.Result {
	e.t.Helper()
	return must(e.store.CrashActualLRP(context.Background(), lrpKey(guid, index), ik(cell), "exit status 1"))(e.t)
}

func (e *env) converge(cells ...string) (models.Result, lrps.ConvergeStats) {
	e.t.Helper()
	set := map[string]bool{}
	for _, c := range cells {
		set[c] = true
	}
	res, stats, err := e.store.Converge(context.Background(), lrps.ConvergeInput{Cells: set})
	if err != nil {
		e.t.Fatal(err)
	}
	return res, stats
}

func (e *env) freshDomain() {
	e.t.Helper()
	if err := e.store.UpsertDomain(context.Background(), domain, 0); err != nil {
		e.t.Fatal(err)
	}
}

// exec runs raw SQL, for states the API cannot reach directly.
func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// slot returns the records of one slot, keyed by presence.
func (e *env) slot(guid string, index int32) map[bbsv1.Presence]*bbsv1.ActualLRP {
	e.t.Helper()
	recs := must(e.store.ActualLRPs(context.Background(), &bbsv1.ActualLRPFilter{ProcessGuid: guid, Index: &index}))(e.t)
	out := map[bbsv1.Presence]*bbsv1.ActualLRP{}
	for _, a := range recs {
		out[a.GetPresence()] = a
	}
	return out
}

// ord returns the ordinary record of a slot, or nil.
func (e *env) ord(guid string, index int32) *bbsv1.ActualLRP {
	e.t.Helper()
	return e.slot(guid, index)[ordinary]
}

// toState drives a new single-instance LRP's index 0 to state, on cell-a
// when it has a cell. CRASHED is reached as a fourth crash.
func (e *env) toState(guid string, state bbsv1.ActualLRPState) {
	e.t.Helper()
	e.desire(guid, 1)
	switch state {
	case unclaimed:
	case claimed:
		e.claim(guid, 0, "cell-a")
	case running:
		e.claim(guid, 0, "cell-a")
		e.start(guid, 0, "cell-a")
	case crashed:
		e.exec(`UPDATE actual_lrps SET crash_count = 3 WHERE process_guid = $1`, guid)
		e.claim(guid, 0, "cell-a")
		e.start(guid, 0, "cell-a")
		e.crash(guid, 0, "cell-a")
	}
	if got := e.ord(guid, 0).GetState(); got != state {
		e.t.Fatalf("toState(%v) reached %v", state, got)
	}
}

// events renders a result's events compactly: "created g/0 ORDINARY
// UNCLAIMED", "changed g/0 ORDINARY RUNNING -> SUSPECT RUNNING",
// "removed …", "desired_created g".
func events(r models.Result) []string {
	desc := func(a *bbsv1.ActualLRP) string {
		return fmt.Sprintf("%s/%d %s %s", a.GetKey().GetProcessGuid(), a.GetKey().GetIndex(),
			strings.TrimPrefix(a.GetPresence().String(), "PRESENCE_"),
			strings.TrimPrefix(a.GetState().String(), "ACTUAL_LRP_STATE_"))
	}
	var out []string
	for _, ev := range r.Events {
		switch {
		case ev.GetActualLrpCreated() != nil:
			out = append(out, "created "+desc(ev.GetActualLrpCreated().GetActualLrp()))
		case ev.GetActualLrpChanged() != nil:
			c := ev.GetActualLrpChanged()
			b, a := desc(c.GetBefore()), desc(c.GetAfter())
			_, a, _ = strings.Cut(a, " ")
			out = append(out, "changed "+b+" -> "+a)
		case ev.GetActualLrpRemoved() != nil:
			out = append(out, "removed "+desc(ev.GetActualLrpRemoved().GetActualLrp()))
		case ev.GetDesiredLrpCreated() != nil:
			out = append(out, "desired_created "+ev.GetDesiredLrpCreated().GetDesiredLrp().GetProcessGuid())
		case ev.GetDesiredLrpChanged() != nil:
			out = append(out, "desired_changed "+ev.GetDesiredLrpChanged().GetAfter().GetProcessGuid())
		case ev.GetDesiredLrpRemoved() != nil:
			out = append(out, "desired_removed "+ev.GetDesiredLrpRemoved().GetDesiredLrp().GetProcessGuid())
		default:
			out = append(out, fmt.Sprintf("other %v", ev))
		}
	}
	return out
}

func wantEvents(t testing.TB, r models.Result, want ...string) {
	t.Helper()
	got := events(r)
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n  got  %q\n  want %q", got, want)
	}
}

// auctions renders a result's auctions as "guid:[0 1]".
func auctions(r models.Result) []string {
	var out []string
	for _, a := range r.LRPAuctions {
		out = append(out, fmt.Sprintf("%s:%v", a.GetProcessGuid(), a.GetIndices()))
	}
	return out
}

func wantAuctions(t testing.TB, r models.Result, want ...string) {
	t.Helper()
	if got := auctions(r); !slices.Equal(got, want) {
		t.Fatalf("auctions = %q, want %q", got, want)
	}
}

// stops renders a result's stops as "guid/index@cell".
func stops(r models.Result) []string {
	var out []string
	for _, s := range r.Stops {
		out = append(out, fmt.Sprintf("%s/%d@%s", s.Key.GetProcessGuid(), s.Key.GetIndex(), s.InstanceKey.GetCellId()))
	}
	return out
}

func wantStops(t testing.TB, r models.Result, want ...string) {
	t.Helper()
	if got := stops(r); !slices.Equal(got, want) {
		t.Fatalf("stops = %q, want %q", got, want)
	}
}

// with returns a copy of e that reports to t, for parallel subtests sharing
// one database.
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// convergeAll is a convergence input with the test cells present.
func convergeAll() lrps.ConvergeInput {
	return lrps.ConvergeInput{Cells: map[string]bool{"cell-a": true, "cell-b": true, "cell-c": true}}
}
