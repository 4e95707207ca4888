package routeemitter

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/internal/natsconn"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeBBS serves the three calls the emitter makes from a state the test
// sets. Each change updates the listing and publishes its event. A
// subscription whose epoch is not the current one starts with a Resync.
type fakeBBS struct {
	bbsv1.UnimplementedBBSServiceServer

	mu      sync.Mutex
	epoch   string
	seq     uint64
	desired map[string]*bbsv1.DesiredLRPSchedulingInfo
	actuals map[string]*bbsv1.ActualLRP // by "guid/index"
	subs    map[chan *bbsv1.SubscribeToEventsResponse]bool
	kill    chan struct{} // closed to break every stream
	lists   int
}

func newFakeBBS() *fakeBBS {
	return &fakeBBS{
		epoch:   uuid.NewString(),
		desired: map[string]*bbsv1.DesiredLRPSchedulingInfo{},
		actuals: map[string]*bbsv1.ActualLRP{},
		subs:    map[chan *bbsv1.SubscribeToEventsResponse]bool{},
		kill:    make(chan struct{}),
	}
}

func (f *fakeBBS) SubscribeToEvents(req *bbsv1.SubscribeToEventsRequest, stream grpc.ServerStreamingServer[bbsv1.SubscribeToEventsResponse]) error {
	ch := make(chan *bbsv1.SubscribeToEventsResponse, 1000)
	f.mu.Lock()
	kill := f.kill
	if req.GetEpoch() != f.epoch || req.GetAfterSequence() != f.seq {
		ch <- &bbsv1.SubscribeToEventsResponse{Epoch: f.epoch, Sequence: f.seq,
			Event: &bbsv1.SubscribeToEventsResponse_Resync{Resync: &bbsv1.Resync{Reason: "test"}}}
	}
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
		case <-kill:
			return status.Error(codes.Unavailable, "killed")
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (f *fakeBBS) ListDesiredLRPSchedulingInfos(context.Context, *bbsv1.ListDesiredLRPSchedulingInfosRequest) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	resp := &bbsv1.ListDesiredLRPSchedulingInfosResponse{}
	for _, d := range f.desired {
		resp.SchedulingInfos = append(resp.SchedulingInfos, proto.CloneOf(d))
	}
	return resp, nil
}

func (f *fakeBBS) ListActualLRPs(context.Context, *bbsv1.ListActualLRPsRequest) (*bbsv1.ListActualLRPsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &bbsv1.ListActualLRPsResponse{}
	for _, a := range f.actuals {
		resp.ActualLrps = append(resp.ActualLrps, proto.CloneOf(a))
	}
	return resp, nil
}

func (f *fakeBBS) listings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeBBS) publishLocked(ev *bbsv1.SubscribeToEventsResponse) {
	f.seq++
	ev.Epoch, ev.Sequence = f.epoch, f.seq
	for ch := range f.subs {
		ch <- ev
	}
}

// desire creates or changes a desired LRP.
func (f *fakeBBS) desire(d *bbsv1.DesiredLRPSchedulingInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, ok := f.desired[d.ProcessGuid]
	f.desired[d.ProcessGuid] = d
	if !ok {
		f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpCreated{
			DesiredLrpCreated: &bbsv1.DesiredLRPCreated{DesiredLrp: proto.CloneOf(d)}}})
		return
	}
	f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpChanged{
		DesiredLrpChanged: &bbsv1.DesiredLRPChanged{Before: before, After: proto.CloneOf(d)}}})
}

// setActual creates or changes an actual LRP.
func (f *fakeBBS) setActual(a *bbsv1.ActualLRP) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fmt.Sprintf("%s/%d", a.Key.ProcessGuid, a.Key.Index)
	before, ok := f.actuals[k]
	f.actuals[k] = a
	if !ok {
		f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpCreated{
			ActualLrpCreated: &bbsv1.ActualLRPCreated{ActualLrp: proto.CloneOf(a)}}})
		return
	}
	f.publishLocked(&bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpChanged{
		ActualLrpChanged: &bbsv1.ActualLRPChanged{Before: before, After: proto.CloneOf(a)}}})
}

// failover changes the state silently, starts a new epoch and breaks the
// streams, as when another BBS takes over having missed nothing but the
// emitter's events.
func (f *fakeBBS) failover(change func()) {
	f.mu.Lock()
	close(f.kill)
	f.kill = make(chan struct{})
	f.epoch, f.seq = uuid.NewString(), 0
	f.mu.Unlock()
	change()
}

// unpublished applies a change to the listing without an event.
func (f *fakeBBS) removeActualSilently(guid string, index int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.actuals, fmt.Sprintf("%s/%d", guid, index))
}

func schedulingInfo(guid, routes string, tag uint32) *bbsv1.DesiredLRPSchedulingInfo {
	return &bbsv1.DesiredLRPSchedulingInfo{
		ProcessGuid: guid, Domain: "cf-apps", Instances: 1, LogGuid: "app-" + guid,
		Routes:          map[string][]byte{"cf-router": []byte(routes)},
		ModificationTag: &bbsv1.ModificationTag{Epoch: "d-" + guid, Index: tag},
	}
}

func runningLRP(guid string, index int32, routable bool, tag uint32) *bbsv1.ActualLRP {
	return &bbsv1.ActualLRP{
		Key:             &bbsv1.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"},
		InstanceKey:     &bbsv1.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-i%d", guid, index), CellId: "cell-a"},
		NetInfo:         &bbsv1.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}}},
		State:           bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING,
		Presence:        bbsv1.Presence_PRESENCE_ORDINARY,
		Routable:        routable,
		ModificationTag: &bbsv1.ModificationTag{Epoch: fmt.Sprintf("a-%s-%d", guid, index), Index: tag},
	}
}

// routerLog records the registry messages on NATS, like a router would
// see them.
type routerLog struct {
	t    testing.TB
	conn *nats.Conn
	mu   sync.Mutex
	msgs []string // "register uri host:port" / "unregister uri host:port"
}

func newRouterLog(t testing.TB, url string) *routerLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := natsconn.Connect(ctx, natsconn.Config{URL: url, Name: "test-router"}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &routerLog{t: t, conn: nc}
	// One subscription for both subjects keeps their order.
	if _, err := nc.Subscribe("router.*", func(m *nats.Msg) {
		if m.Subject != router.SubjectRegister && m.Subject != router.SubjectUnregister {
			return
		}
		msg, err := router.ParseRegistryMessage(m.Data)
		if err != nil {
			t.Errorf("emitter published a malformed message: %v: %s", err, m.Data)
			return
		}
		line := fmt.Sprintf("%s %s %s:%d", strings.TrimPrefix(m.Subject, "router."), strings.Join(msg.URIs, ","), msg.Host, msg.Port)
		l.mu.Lock()
		l.msgs = append(l.msgs, line)
		l.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *routerLog) count(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == line {
			n++
		}
	}
	return n
}

func (l *routerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// wait waits until line has been seen at least n times in total.
func (l *routerLog) wait(line string, n int) {
	l.t.Helper()
	testenv.Eventually(l.t, 15*time.Second, func() error {
		if got := l.count(line); got < n {
			return fmt.Errorf("%q seen %d times, want %d; log: %q", line, got, n, l.all())
		}
		return nil
	})
}

// routerStart publishes router.start as a (re)started router does.
func (l *routerLog) routerStart(intervalSeconds int) {
	l.t.Helper()
	data, err := router.StartMessage{ID: "router-1", MinimumRegisterIntervalInSeconds: intervalSeconds, PruneThresholdInSeconds: 120}.Marshal()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.conn.Publish(router.SubjectStart, data); err != nil {
		l.t.Fatal(err)
	}
}

func serveFakeBBS(t testing.TB, certs testenv.Certs, f *fakeBBS) string {
	t.Helper()
	srv, err := rpc.NewServer(rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, ShutdownTimeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bbsv1.RegisterBBSServiceServer(srv.GRPC(), f)
	testenv.Start(t, srv)
	return srv.Addr().String()
}

func testConfig(certs testenv.Certs, bbsAddr, natsURL string) Config {
	cfg := Config{
		BBS:  BBSConfig{ClientConfig: rpc.ClientConfig{Addresses: []string{bbsAddr}, CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}},
		NATS: natsconn.FileConfig{URL: natsURL},
		Emit: EmitConfig{RegisterInterval: time.Hour, SyncInterval: -1},
	}
	cfg.Ops.Listen = "127.0.0.1:0"
	return cfg
}

func get(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
