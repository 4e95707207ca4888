package table

import (
	"fmt"
	"slices"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
)

const (
	running   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	claimed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
	ordinary  = bbsv1.Presence_PRESENCE_ORDINARY
	evacuated = bbsv1.Presence_PRESENCE_EVACUATING
)

func desiredInfo(guid, routes string, tag uint32) *bbsv1.DesiredLRPSchedulingInfo {
	return &bbsv1.DesiredLRPSchedulingInfo{
		ProcessGuid: guid, LogGuid: "app-" + guid,
		Routes:          map[string][]byte{"cf-router": []byte(routes)},
		ModificationTag: &bbsv1.ModificationTag{Epoch: "d-" + guid, Index: tag},
	}
}

func actual(guid string, index int32, instance string, state bbsv1.ActualLRPState, routable bool, tag uint32) *bbsv1.ActualLRP {
	return &bbsv1.ActualLRP{
		Key:             &bbsv1.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"},
		InstanceKey:     &bbsv1.ActualLRPInstanceKey{InstanceGuid: instance, CellId: "cell"},
		NetInfo:         &bbsv1.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*bbsv1.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}, {ContainerPort: 9090, HostPort: 62000}}},
		State:           state,
		Presence:        ordinary,
		Routable:        routable,
		Since:           42,
		ModificationTag: &bbsv1.ModificationTag{Epoch: "a-" + instance, Index: tag},
	}
}

// summary renders messages as sorted "uri@host:port/instance" strings.
func summary(msgs []router.RegistryMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%s@%s:%d/%s", m.URIs[0], m.Host, m.Port, m.PrivateInstanceID))
	}
	slices.Sort(out)
	return out
}

func check(t *testing.T, what string, ch Changes, reg, unreg []string) {
	t.Helper()
	if got := summary(ch.Register); !slices.Equal(got, reg) {
		t.Errorf("%s: register %v, want %v", what, got, reg)
	}
	if got := summary(ch.Unregister); !slices.Equal(got, unreg) {
		t.Errorf("%s: unregister %v, want %v", what, got, unreg)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	tb := New(Options{}, nil)
	check(t, "desired", tb.SetDesired(desiredInfo("web", `[{"hostnames":["a.example.com","b.example.com"],"port":8080}]`, 0)), nil, nil)
	check(t, "claimed", tb.SetActual(actual("web", 0, "i0", claimed, false, 1)), nil, nil)
	check(t, "running", tb.SetActual(actual("web", 0, "i0", running, true, 2)),
		[]string{"a.example.com@10.0.0.1:61000/i0", "b.example.com@10.0.0.1:61000/i0"}, nil)
	if tb.Len() != 2 || len(tb.Registrations()) != 2 {
		t.Fatalf("Len %d, registrations %d", tb.Len(), len(tb.Registrations()))
	}
	check(t, "same again", tb.SetActual(actual("web", 0, "i0", running, true, 2)), nil, nil)
	check(t, "stale event", tb.SetActual(actual("web", 0, "i0", claimed, false, 1)), nil, nil)

	check(t, "route change", tb.SetDesired(desiredInfo("web", `[{"hostnames":["b.example.com","c.example.com"],"port":8080}]`, 1)),
		[]string{"c.example.com@10.0.0.1:61000/i0"}, []string{"a.example.com@10.0.0.1:61000/i0"})
	ch := tb.SetDesired(desiredInfo("web", `[{"hostnames":["b.example.com","c.example.com"],"port":8080,"route_service_url":"https://rs"}]`, 2))
	check(t, "route service", ch, []string{"b.example.com@10.0.0.1:61000/i0", "c.example.com@10.0.0.1:61000/i0"}, nil)
	if ch.Register[0].RouteServiceURL != "https://rs" {
		t.Errorf("route service url not set: %+v", ch.Register[0])
	}

	check(t, "not routable", tb.SetActual(actual("web", 0, "i0", running, false, 3)),
		nil, []string{"b.example.com@10.0.0.1:61000/i0", "c.example.com@10.0.0.1:61000/i0"})
	check(t, "routable again", tb.SetActual(actual("web", 0, "i0", running, true, 4)),
		[]string{"b.example.com@10.0.0.1:61000/i0", "c.example.com@10.0.0.1:61000/i0"}, nil)
	check(t, "other incarnation's removal", tb.RemoveActual(actual("web", 0, "old", running, true, 9)), nil, nil)
	check(t, "removed", tb.RemoveActual(actual("web", 0, "i0", running, true, 4)),
		nil, []string{"b.example.com@10.0.0.1:61000/i0", "c.example.com@10.0.0.1:61000/i0"})
	if tb.Len() != 0 {
		t.Fatalf("Len %d after removal", tb.Len())
	}
}

func TestMessageFields(t *testing.T) {
	t.Parallel()
	tb := New(Options{RegisterTLSPorts: true}, nil)
	tb.SetDesired(desiredInfo("web", `[{"hostnames":["a.example.com"],"port":8080,"isolation_segment":"seg","protocol":"http2","options":{"loadbalancing":"least-connection"}}]`, 0))
	a := actual("web", 3, "i3", running, true, 0)
	a.NetInfo.Ports[0].HostTlsProxyPort = 61443
	ch := tb.SetActual(a)
	if len(ch.Register) != 1 {
		t.Fatalf("changes %+v", ch)
	}
	m := ch.Register[0]
	want := router.RegistryMessage{
		Host: "10.0.0.1", Port: 61003, TLSPort: 61443, URIs: []string{"a.example.com"}, App: "app-web",
		PrivateInstanceID: "i3", PrivateInstanceIndex: "3", ServerCertDomainSAN: "i3",
		Tags: map[string]string{"component": "route-emitter"}, IsolationSegment: "seg", Protocol: "http2",
		EndpointUpdatedAtNs: 42, Options: router.Options{LoadBalancing: router.LBLeastConnection},
	}
	if !equal(m, want) {
		t.Errorf("message\n%+v\nwant\n%+v", m, want)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(a *bbsv1.ActualLRP)
		want   []string
	}{
		{"host port", func(*bbsv1.ActualLRP) {}, []string{"a@10.0.0.1:61000/i0", "b@10.0.0.1:62000/i0"}},
		{"instance address", func(a *bbsv1.ActualLRP) {
			a.NetInfo.PreferredAddress, a.NetInfo.InstanceAddress = "INSTANCE", "172.16.0.5"
		}, []string{"a@172.16.0.5:8080/i0", "b@172.16.0.5:9090/i0"}},
		{"unmapped port", func(a *bbsv1.ActualLRP) { a.NetInfo.Ports = a.NetInfo.Ports[:1] }, []string{"a@10.0.0.1:61000/i0"}},
		{"no address", func(a *bbsv1.ActualLRP) { a.NetInfo.Address = "" }, nil},
		{"bad address", func(a *bbsv1.ActualLRP) { a.NetInfo.Address = "10.0.0.1 x" }, nil},
		{"evacuating", func(a *bbsv1.ActualLRP) { a.Presence = evacuated }, []string{"a@10.0.0.1:61000/i0", "b@10.0.0.1:62000/i0"}},
		{"suspect", func(a *bbsv1.ActualLRP) { a.Presence = bbsv1.Presence_PRESENCE_SUSPECT }, []string{"a@10.0.0.1:61000/i0", "b@10.0.0.1:62000/i0"}},
		{"crashed", func(a *bbsv1.ActualLRP) { a.State = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED }, nil},
		{"no presence", func(a *bbsv1.ActualLRP) { a.Presence = bbsv1.Presence_PRESENCE_UNSPECIFIED }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := New(Options{}, nil)
			tb.SetDesired(desiredInfo("web", `[{"hostnames":["a"],"port":8080},{"hostnames":["b"],"port":9090}]`, 0))
			a := actual("web", 0, "i0", running, true, 0)
			tt.change(a)
			check(t, tt.name, tb.SetActual(a), tt.want, nil)
		})
	}
}

func TestEvacuationKeepsBothCopies(t *testing.T) {
	t.Parallel()
	tb := New(Options{}, nil)
	tb.SetDesired(desiredInfo("web", `[{"hostnames":["a"],"port":8080}]`, 0))
	tb.SetActual(actual("web", 0, "old", running, true, 0))
	evac := actual("web", 0, "old", running, true, 0)
	evac.Presence = evacuated
	evac.ModificationTag.Epoch = "evac"
	check(t, "evacuating copy", tb.SetActual(evac), nil, nil) // same endpoint, same message
	// The ordinary record is re-placed (UNCLAIMED), then runs elsewhere.
	check(t, "ordinary unclaimed", tb.SetActual(actual("web", 0, "", bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED, false, 1)), nil, nil)
	check(t, "new copy runs", tb.SetActual(actual("web", 0, "new", running, true, 2)), []string{"a@10.0.0.1:61000/new"}, nil)
	check(t, "evacuating copy removed", tb.RemoveActual(evac), nil, []string{"a@10.0.0.1:61000/old"})
}

func TestReplaceAndDesiredRemoval(t *testing.T) {
	t.Parallel()
	tb := New(Options{}, nil)
	tb.SetDesired(desiredInfo("web", `[{"hostnames":["a"],"port":8080}]`, 0))
	tb.SetDesired(desiredInfo("api", `[{"hostnames":["api"],"port":8080}]`, 0))
	tb.SetActual(actual("web", 0, "w0", running, true, 0))
	tb.SetActual(actual("api", 0, "a0", running, true, 0))

	// The listing no longer has web, and api gained an instance.
	ch := tb.Replace(
		[]*bbsv1.DesiredLRPSchedulingInfo{desiredInfo("api", `[{"hostnames":["api"],"port":8080}]`, 0)},
		[]*bbsv1.ActualLRP{actual("api", 0, "a0", running, true, 0), actual("api", 1, "a1", running, true, 0)},
	)
	check(t, "replace", ch, []string{"api@10.0.0.1:61001/a1"}, []string{"a@10.0.0.1:61000/w0"})

	check(t, "other incarnation", tb.RemoveDesired(&bbsv1.DesiredLRPSchedulingInfo{ProcessGuid: "api", ModificationTag: &bbsv1.ModificationTag{Epoch: "older"}}), nil, nil)
	check(t, "remove desired", tb.RemoveDesired(desiredInfo("api", ``, 0)), nil, []string{"api@10.0.0.1:61000/a0", "api@10.0.0.1:61001/a1"})
	if tb.Len() != 0 {
		t.Errorf("Len = %d", tb.Len())
	}
}

func TestBadRoutesAreDropped(t *testing.T) {
	t.Parallel()
	tb := New(Options{}, nil)
	tb.SetDesired(desiredInfo("web", `{not json`, 0))
	check(t, "bad json", tb.SetActual(actual("web", 0, "i0", running, true, 0)), nil, nil)
	check(t, "fixed", tb.SetDesired(desiredInfo("web", `[{"hostnames":["ok","bad host"],"port":8080}]`, 1)), []string{"ok@10.0.0.1:61000/i0"}, nil)
}
