package diego

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/web"
)

type staticToken string

func (s staticToken) AccessToken(context.Context) (string, error) { return string(s), nil }

func TestInstances(t *testing.T) {
	var lcURL atomic.Value
	var reads atomic.Int32
	now := time.Now()
	lc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "bearer admin-token" || q.Get("envelope_types") != "GAUGE" || q.Get("descending") != "true" ||
			q.Get("limit") != "1000" || q.Get("start_time") != strconv.FormatInt(now.Add(-2*time.Minute).UnixNano(), 10) {
			t.Errorf("log-cache request %s %v", r.URL, r.Header)
		}
		ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(-d).UnixNano(), 10) }
		// Newest first: instance 0's container metrics, an older copy
		// (ignored) and its log rate in a separate envelope.
		fmt.Fprintf(w, `{"envelopes":{"batch":[
			{"timestamp":%q,"source_id":"x","instance_id":"0","gauge":{"metrics":{"cpu":{"unit":"percentage","value":12.5},"memory":{"unit":"bytes","value":1048576},"disk":{"unit":"bytes","value":2097152},"memory_quota":{"unit":"bytes","value":268435456}}}},
			{"timestamp":%q,"source_id":"x","instance_id":"0","gauge":{"metrics":{"log_rate":{"unit":"B/s","value":300}}}},
			{"timestamp":%q,"source_id":"x","instance_id":"0","gauge":{"metrics":{"memory":{"unit":"bytes","value":99}}}},
			{"timestamp":%q,"source_id":"x","instance_id":"junk","gauge":{"metrics":{"memory":{"unit":"bytes","value":99}}}},
			{"timestamp":%q,"source_id":"x","instance_id":"1","log":{"payload":"aGk="}}
		]}}`, ts(time.Second), ts(2*time.Second), ts(20*time.Second), ts(time.Second), ts(time.Second))
	}))
	defer lc.Close()
	lcURL.Store(lc.URL)
	e := newEnv(t, func(d *Deps) { d.LogCacheURL = lc.URL; d.Tokens = staticToken("admin-token") })
	e.now = now
	ctx := t.Context()
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	lrp := e.only(t, e.web.GUID).ProcessGuid
	since := now.Add(-time.Minute).UnixNano()
	e.bbs.setActual(func(a *bbsv1.ActualLRP) {
		a.State, a.Since, a.Routable = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING, since, true
		a.InstanceKey = &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-0", CellId: "cell-a"}
		a.NetInfo = &bbsv1.ActualLRPNetInfo{Address: "10.0.0.5", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61001, ContainerTlsProxyPort: 61443, HostTlsProxyPort: 61002}}}
	}, lrp, 0)
	e.bbs.setActual(func(a *bbsv1.ActualLRP) {
		a.State, a.CrashCount, a.CrashReason = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED, 3, "APP/PROC/WEB: Exited with status 1"
	}, lrp, 1)

	got, err := e.syncer.Instances(ctx, e.web.GUID)
	if err != nil {
		t.Fatal(err)
	}
	by := map[int]web.InstanceState{}
	for _, st := range got {
		by[st.Index] = st
	}
	if len(by) != 2 {
		t.Fatalf("instances %+v", got)
	}
	i0 := by[0]
	if i0.State != web.InstanceRunning || i0.Host != "10.0.0.5" || !i0.Since.Equal(time.Unix(0, since)) || i0.Routable == nil || !*i0.Routable {
		t.Errorf("instance 0: %+v", i0)
	}
	if len(i0.Ports) != 1 || i0.Ports[0] != (web.InstancePort{External: 61001, Internal: 8080, ExternalTLSProxy: 61002, InternalTLSProxy: 61443}) {
		t.Errorf("instance 0 ports %+v", i0.Ports)
	}
	if u := i0.Usage; u == nil || u.CPU != 0.125 || u.MemBytes != 1048576 || u.DiskBytes != 2097152 || u.LogRate != 300 ||
		u.Time.UnixNano() != now.Add(-time.Second).UnixNano() {
		t.Errorf("instance 0 usage %+v", i0.Usage)
	}
	i1 := by[1]
	if i1.State != web.InstanceCrashed || i1.Details != "APP/PROC/WEB: Exited with status 1" || i1.Routable != nil {
		t.Errorf("instance 1: %+v", i1)
	}
	if u := i1.Usage; u == nil || u.MemBytes != 0 || !u.Time.Equal(now) {
		t.Errorf("instance 1 usage without gauges: %+v", u)
	}
	if reads.Load() != 1 {
		t.Errorf("%d log-cache reads, want 1", reads.Load())
	}

	// Placement errors are details of a STARTING instance.
	e.bbs.setActual(func(a *bbsv1.ActualLRP) {
		a.State, a.PlacementError = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED, "insufficient resources: memory"
	}, lrp, 1)
	got, err = e.syncer.Instances(ctx, e.web.GUID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range got {
		if st.Index == 1 && (st.State != web.InstanceStarting || st.Details != "insufficient resources: memory") {
			t.Errorf("unplaced instance: %+v", st)
		}
	}
}

func TestInstancesWithoutLogCache(t *testing.T) {
	lc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"down"}`, http.StatusBadGateway)
	}))
	defer lc.Close()
	e := newEnv(t, func(d *Deps) { d.LogCacheURL = lc.URL })
	ctx := t.Context()
	if err := e.syncer.Desire(ctx, e.web); err != nil {
		t.Fatal(err)
	}
	got, err := e.syncer.Instances(ctx, e.web.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("instances %+v", got)
	}
	for _, st := range got {
		if st.State != web.InstanceStarting || st.Usage == nil || st.Usage.MemBytes != 0 {
			t.Errorf("instance %+v", st)
		}
	}
	// A process never desired has no instances (all DOWN in /stats).
	if err := e.syncer.Remove(ctx, e.web.GUID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.syncer.Instances(ctx, e.web.GUID); err != nil || len(got) != 0 {
		t.Errorf("removed process: %v, %v", got, err)
	}
}
