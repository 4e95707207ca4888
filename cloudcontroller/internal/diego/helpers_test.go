package diego

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeBBS serves the BBS calls the sync makes over real gRPC, from
// in-memory state: desired LRPs with UNCLAIMED instances per index, as the
// real BBS makes them, and an event stream.
type fakeBBS struct {
	bbsv1.UnimplementedBBSServiceServer

	mu       sync.Mutex
	desired  map[string]*bbsv1.DesiredLRP
	actuals  map[string]*bbsv1.ActualLRP // "guid/index"
	domains  map[string]uint32
	retired  []string
	calls    map[string]int
	failList bool
	invalid  string // DesireLRP of this process guid's LRPs is refused as invalid
	epoch    string
	seq      uint64
	subs     map[chan *bbsv1.SubscribeToEventsResponse]bool
}

func newFakeBBS(t *testing.T) (*fakeBBS, bbsv1.BBSServiceClient) {
	t.Helper()
	f := &fakeBBS{
		desired: map[string]*bbsv1.DesiredLRP{}, actuals: map[string]*bbsv1.ActualLRP{},
		domains: map[string]uint32{}, calls: map[string]int{}, epoch: uuid.NewString(),
		subs: map[chan *bbsv1.SubscribeToEventsResponse]bool{},
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	bbsv1.RegisterBBSServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return f, bbsv1.NewBBSServiceClient(conn)
}

func akey(guid string, i int32) string { return fmt.Sprintf("%s/%d", guid, i) }

func (f *fakeBBS) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeBBS) publishLocked(ev *bbsv1.SubscribeToEventsResponse) {
	f.seq++
	ev.Epoch, ev.Sequence = f.epoch, f.seq
	for ch := range f.subs {
		ch <- ev
	}
}

func schedInfo(d *bbsv1.DesiredLRP) *bbsv1.DesiredLRPSchedulingInfo {
	return &bbsv1.DesiredLRPSchedulingInfo{
		ProcessGuid: d.ProcessGuid, Domain: d.Domain, Instances: d.Instances, RootFs: d.RootFs,
		MemoryMb: d.MemoryMb, DiskMb: d.DiskMb, Routes: d.Routes, Annotation: d.Annotation,
		ModificationTag: d.ModificationTag, LogGuid: d.LogGuid,
	}
}

func (f *fakeBBS) DesireLRP(_ context.Context, req *bbsv1.DesireLRPRequest) (*bbsv1.DesireLRPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["DesireLRP"]++
	d := proto.CloneOf(req.DesiredLrp)
	if f.invalid != "" && processOf(d.ProcessGuid) == f.invalid {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_REQUEST, "invalid desired lrp")
	}
	if _, ok := f.desired[d.ProcessGuid]; ok {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_EXISTS, "exists")
	}
	d.ModificationTag = &bbsv1.ModificationTag{Epoch: uuid.NewString()}
	f.desired[d.ProcessGuid] = d
	f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpCreated{
		DesiredLrpCreated: &bbsv1.DesiredLRPCreated{DesiredLrp: schedInfo(d)}}})
	for i := range d.Instances {
		f.actuals[akey(d.ProcessGuid, i)] = &bbsv1.ActualLRP{
			Key:   &bbsv1.ActualLRPKey{ProcessGuid: d.ProcessGuid, Index: i, Domain: d.Domain},
			State: bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED, Presence: bbsv1.Presence_PRESENCE_ORDINARY,
		}
	}
	return &bbsv1.DesireLRPResponse{}, nil
}

func (f *fakeBBS) UpdateDesiredLRP(_ context.Context, req *bbsv1.UpdateDesiredLRPRequest) (*bbsv1.UpdateDesiredLRPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["UpdateDesiredLRP"]++
	d, ok := f.desired[req.ProcessGuid]
	if !ok {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "not found")
	}
	u := req.Update
	if u.Instances != nil {
		d.Instances = *u.Instances
	}
	if u.SetRoutes {
		d.Routes = u.Routes
	}
	if u.Annotation != nil {
		d.Annotation = *u.Annotation
	}
	if u.SetMetricTags {
		d.MetricTags = u.MetricTags
	}
	d.ModificationTag.Index++
	return &bbsv1.UpdateDesiredLRPResponse{DesiredLrp: proto.CloneOf(d)}, nil
}

func (f *fakeBBS) RemoveDesiredLRP(_ context.Context, req *bbsv1.RemoveDesiredLRPRequest) (*bbsv1.RemoveDesiredLRPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["RemoveDesiredLRP"]++
	d, ok := f.desired[req.ProcessGuid]
	if !ok {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "not found")
	}
	delete(f.desired, req.ProcessGuid)
	for k, a := range f.actuals {
		if a.Key.ProcessGuid == req.ProcessGuid {
			delete(f.actuals, k)
		}
	}
	f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpRemoved{
		DesiredLrpRemoved: &bbsv1.DesiredLRPRemoved{DesiredLrp: schedInfo(d)}}})
	return &bbsv1.RemoveDesiredLRPResponse{}, nil
}

func (f *fakeBBS) ListDesiredLRPSchedulingInfos(_ context.Context, req *bbsv1.ListDesiredLRPSchedulingInfosRequest) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ListDesiredLRPSchedulingInfos"]++
	if f.failList {
		return nil, status.Error(codes.Internal, "listing broken")
	}
	resp := &bbsv1.ListDesiredLRPSchedulingInfosResponse{}
	guids := map[string]bool{}
	for _, g := range req.GetFilter().GetProcessGuids() {
		guids[g] = true
	}
	for _, d := range f.desired {
		if dom := req.GetFilter().GetDomain(); dom != "" && d.Domain != dom {
			continue
		}
		if len(guids) > 0 && !guids[d.ProcessGuid] {
			continue
		}
		resp.SchedulingInfos = append(resp.SchedulingInfos, proto.CloneOf(schedInfo(d)))
	}
	return resp, nil
}

func (f *fakeBBS) ListActualLRPs(_ context.Context, req *bbsv1.ListActualLRPsRequest) (*bbsv1.ListActualLRPsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ListActualLRPs"]++
	resp := &bbsv1.ListActualLRPsResponse{}
	for _, a := range f.actuals {
		if g := req.GetFilter().GetProcessGuid(); g != "" && a.Key.ProcessGuid != g {
			continue
		}
		resp.ActualLrps = append(resp.ActualLrps, proto.CloneOf(a))
	}
	return resp, nil
}

func (f *fakeBBS) RetireActualLRP(_ context.Context, req *bbsv1.RetireActualLRPRequest) (*bbsv1.RetireActualLRPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := akey(req.Key.ProcessGuid, req.Key.Index)
	if _, ok := f.actuals[k]; !ok {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "not found")
	}
	delete(f.actuals, k)
	f.retired = append(f.retired, k)
	return &bbsv1.RetireActualLRPResponse{}, nil
}

func (f *fakeBBS) UpsertDomain(_ context.Context, req *bbsv1.UpsertDomainRequest) (*bbsv1.UpsertDomainResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["UpsertDomain"]++
	f.domains[req.Domain] = req.TtlSeconds
	return &bbsv1.UpsertDomainResponse{}, nil
}

func (f *fakeBBS) SubscribeToEvents(req *bbsv1.SubscribeToEventsRequest, stream grpc.ServerStreamingServer[bbsv1.SubscribeToEventsResponse]) error {
	ch := make(chan *bbsv1.SubscribeToEventsResponse, 1000)
	f.mu.Lock()
	f.calls["SubscribeToEvents"]++
	f.subs[ch] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	for {
		select {
		case ev := <-ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

// subscribers is the number of open event streams.
func (f *fakeBBS) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// setActual changes an instance and publishes the change.
func (f *fakeBBS) setActual(change func(a *bbsv1.ActualLRP), guid string, index int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := akey(guid, index)
	before := f.actuals[k]
	after := proto.CloneOf(before)
	change(after)
	f.actuals[k] = after
	f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpChanged{
		ActualLrpChanged: &bbsv1.ActualLRPChanged{Before: proto.CloneOf(before), After: proto.CloneOf(after)}}})
}

// lrps returns the desired LRPs (cloned), by process guid order.
func (f *fakeBBS) lrps() []*bbsv1.DesiredLRP {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*bbsv1.DesiredLRP
	for _, d := range f.desired {
		out = append(out, proto.CloneOf(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProcessGuid < out[j].ProcessGuid })
	return out
}

// put stores a desired LRP directly (drift made behind the sync's back).
func (f *fakeBBS) put(d *bbsv1.DesiredLRP) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d = proto.CloneOf(d)
	if d.ModificationTag == nil {
		d.ModificationTag = &bbsv1.ModificationTag{Epoch: uuid.NewString()}
	}
	f.desired[d.ProcessGuid] = d
}

// fakeDroplets serves the current droplet per process guid.
type fakeDroplets struct {
	mu sync.Mutex
	by map[string]store.DropletDownload
}

func (d *fakeDroplets) DropletForProcess(_ context.Context, guid string) (store.DropletDownload, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dd, ok := d.by[guid]
	if !ok {
		return dd, fmt.Errorf("droplet for process: %w", store.ErrNotFound)
	}
	return dd, nil
}

func (d *fakeDroplets) set(process string, dd store.DropletDownload) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.by[process] = dd
}

type fakeSigner struct{}

func (fakeSigner) SignedURL(method, bucket, key string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("https://blobstore.test/%s/%s?method=%s&ttl=%d", bucket, key, method, int(ttl.Seconds())), nil
}

// env is a store with one started app (web process, a route) and a Syncer
// on the fake BBS.
type env struct {
	st       *store.Store
	bbs      *fakeBBS
	droplets *fakeDroplets
	syncer   *Syncer
	org      store.Org
	space    store.Space
	app      store.App
	web      store.Process
	domain   store.Domain
	now      time.Time
}

func newEnv(t *testing.T, withDeps ...func(*Deps)) *env {
	t.Helper()
	ctx := t.Context()
	pool, err := pg.Connect(ctx, pg.Config{DSN: testenv.Postgres(t)}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if err := st.Migrate(ctx, testenv.Logger(t)); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, droplets: &fakeDroplets{by: map[string]store.DropletDownload{}}, now: time.Now()}
	var client bbsv1.BBSServiceClient
	e.bbs, client = newFakeBBS(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e.org, err = st.CreateOrg(ctx, store.Org{Name: "o"})
	must(err)
	e.space, err = st.CreateSpace(ctx, store.Space{Name: "s", OrgGUID: e.org.GUID})
	must(err)
	e.domain, err = st.EnsureSharedDomain(ctx, "apps.test")
	must(err)
	e.app, e.web = e.newApp(t, "hello", map[string]string{"B": "2", "A": "1"})
	deps := Deps{Store: st, BBS: client, Droplets: e.droplets, Signer: fakeSigner{}, ExternalURL: "https://api.test",
		Logger: testenv.Logger(t), Now: func() time.Time { return e.now }}
	for _, f := range withDeps {
		f(&deps)
	}
	e.syncer = New(Config{SyncInterval: time.Hour}, deps)
	return e
}

// newApp creates a started app with a web process, a droplet and a route
// host.apps.test/path mapped to web.
func (e *env) newApp(t *testing.T, name string, vars map[string]string) (store.App, store.Process) {
	t.Helper()
	ctx := t.Context()
	app, err := e.st.CreateApp(ctx, store.App{Name: name, SpaceGUID: e.space.GUID, Stack: "cflinuxfs4", Env: vars},
		store.Process{Instances: 2, MemoryMB: 256, DiskMB: 512, LogRateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	drop := uuid.NewString()
	if app, err = e.st.SetAppDroplet(ctx, app.GUID, drop); err != nil {
		t.Fatal(err)
	}
	if app, err = e.st.SetAppState(ctx, app.GUID, store.AppStarted); err != nil {
		t.Fatal(err)
	}
	web, err := e.st.GetAppProcess(ctx, app.GUID, store.ProcessWeb)
	if err != nil {
		t.Fatal(err)
	}
	e.droplets.set(web.GUID, store.DropletDownload{DropletGUID: drop, BlobKey: drop, SHA256: "abc123", Stack: "cflinuxfs4",
		ProcessTypes: map[string]string{"web": "./server"}})
	e.mapRoute(t, app.GUID, name, "")
	return app, web
}

// mapRoute creates host.apps.test<path> and maps it to app's web:8080.
func (e *env) mapRoute(t *testing.T, app, host, path string) store.Route {
	t.Helper()
	ctx := t.Context()
	rt, err := e.st.CreateRoute(ctx, store.Route{Host: host, Path: path, DomainGUID: e.domain.GUID, SpaceGUID: e.space.GUID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.st.UpdateDestinations(ctx, rt.GUID, func([]store.Destination) (store.DestinationChange, error) {
		return store.DestinationChange{Add: []store.Destination{{AppGUID: app, ProcessType: "web", Port: 8080, Protocol: "http1"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// lrpsOf returns the desired LRPs of a process.
func (e *env) lrpsOf(process string) []*bbsv1.DesiredLRP {
	var out []*bbsv1.DesiredLRP
	for _, d := range e.bbs.lrps() {
		if processOf(d.ProcessGuid) == process {
			out = append(out, d)
		}
	}
	return out
}

// only returns the one desired LRP of a process or fails.
func (e *env) only(t *testing.T, process string) *bbsv1.DesiredLRP {
	t.Helper()
	l := e.lrpsOf(process)
	if len(l) != 1 {
		t.Fatalf("process %s has %d desired LRPs, want 1", process, len(l))
	}
	return l[0]
}
