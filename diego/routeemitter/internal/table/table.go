// Package table is the route emitter's routing table: the desired LRPs'
// cf-router routes and the actual LRPs, and from them the router.register
// messages that should currently be live.
//
// Every change (a desired or actual LRP set or removed, or a whole new
// listing) returns the [Changes] it makes to the live registrations: the
// messages to publish on router.register (new or different) and on
// router.unregister (gone). A registration is identified by its instance,
// endpoint (host, port, tls_port) and URI; when only its other fields
// change (route service, options, isolation segment) it is registered
// again, not unregistered first, so the route never drops. While a cell
// drains, the EVACUATING copy and the ORDINARY record can name the same
// instance and endpoint; the registration is counted once per record and
// unregistered only when neither produces it any more.
//
// An instance is routable when it is RUNNING, its routable flag is set
// (the rep clears it when a readiness check fails and before it stops the
// instance) and its presence is ORDINARY, EVACUATING (the old copy keeps
// serving while its cell drains) or SUSPECT (its cell is unreachable but
// may still serve, until the BBS removes it), as in Cloud Foundry. Each
// route of its desired LRP is registered on the instance's host port for
// the route's container port (or on the container address and port when the
// instance prefers INSTANCE addressing); routes whose port is not mapped
// are left out.
//
// Events can arrive older than what the table holds (replayed after a
// listing): a record whose modification tag has the same epoch and a lower
// index than the stored one is ignored, and a removal only removes the
// incarnation (tag epoch) it names.
//
// Concurrency: a Table is safe for concurrent use; every method holds its
// one mutex.
package table

import (
	"bytes"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/api/router"
	"github.com/anvilpaas/anvil/diego/routeemitter/internal/cfroutes"
)

// Component is the "component" tag of every registration.
const Component = "route-emitter"

// Options tune the registrations.
type Options struct {
	// RegisterTLSPorts adds tls_port (the cell's TLS proxy port) and
	// server_cert_domain_san (the instance guid) to an instance's
	// registrations when its cell gives it a TLS proxy port.
	RegisterTLSPorts bool
}

// Changes are what a table change does to the live registrations.
type Changes struct {
	Register   []router.RegistryMessage
	Unregister []router.RegistryMessage
}

// Empty reports whether there is nothing to publish.
func (c Changes) Empty() bool { return len(c.Register) == 0 && len(c.Unregister) == 0 }

func (c *Changes) add(o Changes) {
	c.Register = append(c.Register, o.Register...)
	c.Unregister = append(c.Unregister, o.Unregister...)
}

// Table is the routing table. Create it with New.
type Table struct {
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	desired map[string]*desired                          // by process guid
	actuals map[string]map[slot]*bbsv1.ActualLRP         // by process guid
	regs    map[string]map[slot][]router.RegistryMessage // each instance's registrations, by process guid
	// live are the registrations published, by process guid and key, with
	// the number of instance records (slots) producing each: an
	// evacuating copy and its ordinary record name the same instance and
	// endpoint, and the endpoint stays while either does.
	live  map[string]map[key]*entry
	count int // entries in live
}

type entry struct {
	msg  router.RegistryMessage
	refs int
}

// slot is an actual LRP's identity within its process in the BBS.
type slot struct {
	index    int32
	presence bbsv1.Presence
}

type desired struct {
	info   *bbsv1.DesiredLRPSchedulingInfo
	routes []cfroutes.Route
}

// New returns an empty table. A nil logger discards logs (unusable routes
// are logged at Warn).
func New(opts Options, logger *slog.Logger) *Table {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Table{
		opts:    opts,
		logger:  logger,
		desired: map[string]*desired{},
		actuals: map[string]map[slot]*bbsv1.ActualLRP{},
		regs:    map[string]map[slot][]router.RegistryMessage{},
		live:    map[string]map[key]*entry{},
	}
}

// Len is the number of live registrations (one per instance and URI).
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// Registrations returns every live registration, for the periodic
// re-registration.
func (t *Table) Registrations() []router.RegistryMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]router.RegistryMessage, 0, t.count)
	for _, byKey := range t.live {
		for _, e := range byKey {
			out = append(out, e.msg)
		}
	}
	return out
}

// SetDesired records a desired LRP (created or changed).
func (t *Table) SetDesired(info *bbsv1.DesiredLRPSchedulingInfo) Changes {
	t.mu.Lock()
	defer t.mu.Unlock()
	guid := info.GetProcessGuid()
	if old := t.desired[guid]; old != nil && stale(old.info.GetModificationTag(), info.GetModificationTag()) {
		return Changes{}
	}
	t.setDesiredLocked(info)
	return t.refreshProcessLocked(guid)
}

// RemoveDesired forgets a desired LRP; its instances are no longer routed.
func (t *Table) RemoveDesired(info *bbsv1.DesiredLRPSchedulingInfo) Changes {
	t.mu.Lock()
	defer t.mu.Unlock()
	guid := info.GetProcessGuid()
	old := t.desired[guid]
	if old == nil || !sameIncarnation(old.info.GetModificationTag(), info.GetModificationTag()) {
		return Changes{}
	}
	delete(t.desired, guid)
	return t.refreshProcessLocked(guid)
}

// SetActual records an actual LRP (created or changed).
func (t *Table) SetActual(a *bbsv1.ActualLRP) Changes {
	t.mu.Lock()
	defer t.mu.Unlock()
	guid, s := a.GetKey().GetProcessGuid(), slotOf(a)
	if old := t.actuals[guid][s]; old != nil && stale(old.GetModificationTag(), a.GetModificationTag()) {
		return Changes{}
	}
	if t.actuals[guid] == nil {
		t.actuals[guid] = map[slot]*bbsv1.ActualLRP{}
	}
	t.actuals[guid][s] = a
	return t.refreshSlotLocked(guid, s)
}

// RemoveActual forgets an actual LRP.
func (t *Table) RemoveActual(a *bbsv1.ActualLRP) Changes {
	t.mu.Lock()
	defer t.mu.Unlock()
	guid, s := a.GetKey().GetProcessGuid(), slotOf(a)
	old := t.actuals[guid][s]
	if old == nil || !sameIncarnation(old.GetModificationTag(), a.GetModificationTag()) {
		return Changes{}
	}
	delete(t.actuals[guid], s)
	if len(t.actuals[guid]) == 0 {
		delete(t.actuals, guid)
	}
	return t.refreshSlotLocked(guid, s)
}

// Replace makes a full listing the table's state and returns what changed
// against the registrations live before.
func (t *Table) Replace(infos []*bbsv1.DesiredLRPSchedulingInfo, actuals []*bbsv1.ActualLRP) Changes {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.desired
	t.desired = make(map[string]*desired, len(infos))
	for _, info := range infos {
		if old := prev[info.GetProcessGuid()]; old != nil {
			t.desired[info.GetProcessGuid()] = old // lets setDesiredLocked reuse its parsed routes
		}
		t.setDesiredLocked(info)
	}
	t.actuals = map[string]map[slot]*bbsv1.ActualLRP{}
	for _, a := range actuals {
		guid := a.GetKey().GetProcessGuid()
		if t.actuals[guid] == nil {
			t.actuals[guid] = map[slot]*bbsv1.ActualLRP{}
		}
		t.actuals[guid][slotOf(a)] = a
	}
	var ch Changes
	guids := map[string]bool{}
	for g := range t.regs {
		guids[g] = true
	}
	for g := range t.live {
		guids[g] = true
	}
	for g := range t.actuals {
		guids[g] = true
	}
	for g := range guids {
		ch.add(t.refreshProcessLocked(g))
	}
	return ch
}

func (t *Table) setDesiredLocked(info *bbsv1.DesiredLRPSchedulingInfo) {
	raw := info.GetRoutes()[cfroutes.Key]
	if old := t.desired[info.GetProcessGuid()]; old != nil && bytes.Equal(old.info.GetRoutes()[cfroutes.Key], raw) {
		t.desired[info.GetProcessGuid()] = &desired{info: info, routes: old.routes} // unchanged: not parsed (or logged) again
		return
	}
	res, err := cfroutes.Parse(raw)
	if err != nil || res.Dropped > 0 {
		t.logger.Warn("unusable cf-router routes", "process_guid", info.GetProcessGuid(), "dropped", res.Dropped, "err", err)
	}
	t.desired[info.GetProcessGuid()] = &desired{info: info, routes: res.Routes}
}

// refreshProcessLocked recomputes every instance of a process.
func (t *Table) refreshProcessLocked(guid string) Changes {
	var ch Changes
	slots := map[slot]bool{}
	for s := range t.regs[guid] {
		slots[s] = true
	}
	for s := range t.actuals[guid] {
		slots[s] = true
	}
	for s := range slots {
		ch.add(t.refreshSlotLocked(guid, s))
	}
	return ch
}

// refreshSlotLocked recomputes one instance's registrations and updates
// the live ones.
func (t *Table) refreshSlotLocked(guid string, s slot) Changes {
	old := t.regs[guid][s]
	cur := t.build(t.desired[guid], t.actuals[guid][s])
	if len(cur) == 0 {
		delete(t.regs[guid], s)
		if len(t.regs[guid]) == 0 {
			delete(t.regs, guid)
		}
	} else {
		if t.regs[guid] == nil {
			t.regs[guid] = map[slot][]router.RegistryMessage{}
		}
		t.regs[guid][s] = cur
	}

	live := t.live[guid]
	if live == nil {
		live = map[key]*entry{}
		t.live[guid] = live
	}
	var ch Changes
	had := make(map[key]bool, len(old))
	for _, m := range old {
		had[keyOf(m)] = true
	}
	has := make(map[key]bool, len(cur))
	for _, m := range cur {
		k := keyOf(m)
		has[k] = true
		e := live[k]
		switch {
		case e == nil:
			live[k] = &entry{msg: m, refs: 1}
			t.count++
			ch.Register = append(ch.Register, m)
			continue
		case !had[k]:
			e.refs++
		}
		if !equal(e.msg, m) {
			e.msg = m
			ch.Register = append(ch.Register, m)
		}
	}
	for k := range had {
		if has[k] {
			continue
		}
		if e := live[k]; e != nil {
			if e.refs--; e.refs <= 0 {
				delete(live, k)
				t.count--
				ch.Unregister = append(ch.Unregister, e.msg)
			}
		}
	}
	if len(live) == 0 {
		delete(t.live, guid)
	}
	return ch
}

// build returns the registrations of one instance.
func (t *Table) build(d *desired, a *bbsv1.ActualLRP) []router.RegistryMessage {
	if d == nil || a == nil || !Routable(a) {
		return nil
	}
	ni := a.GetNetInfo()
	guid := a.GetInstanceKey().GetInstanceGuid()
	var out []router.RegistryMessage
	seen := map[key]bool{}
	for _, r := range d.routes {
		host, port, tlsPort := endpoint(ni, r.Port)
		if host == "" || port == 0 {
			continue
		}
		m := router.RegistryMessage{
			Host:                 host,
			Port:                 port,
			URIs:                 []string{r.Hostname},
			App:                  d.info.GetLogGuid(),
			PrivateInstanceID:    guid,
			PrivateInstanceIndex: strconv.Itoa(int(a.GetKey().GetIndex())),
			RouteServiceURL:      r.RouteServiceURL,
			Tags:                 map[string]string{"component": Component},
			IsolationSegment:     r.IsolationSegment,
			Protocol:             r.Protocol,
			EndpointUpdatedAtNs:  a.GetSince(),
			Options:              r.Options,
		}
		if t.opts.RegisterTLSPorts && tlsPort != 0 {
			m.TLSPort = tlsPort
			m.ServerCertDomainSAN = guid
		}
		if m.Validate() != nil || seen[keyOf(m)] {
			continue // e.g. a malformed cell address, or two ports mapped to one
		}
		seen[keyOf(m)] = true
		out = append(out, m)
	}
	return out
}

// Routable reports whether an instance should receive traffic.
func Routable(a *bbsv1.ActualLRP) bool {
	if a.GetState() != bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING || !a.GetRoutable() {
		return false
	}
	switch a.GetPresence() {
	case bbsv1.Presence_PRESENCE_ORDINARY, bbsv1.Presence_PRESENCE_EVACUATING, bbsv1.Presence_PRESENCE_SUSPECT:
		return true
	}
	return false
}

// endpoint returns where the container port is reachable: the cell
// address and host ports, or the container's own address and ports when
// the instance prefers INSTANCE addressing.
func endpoint(ni *bbsv1.ActualLRPNetInfo, containerPort uint32) (host string, port, tlsPort int) {
	for _, pm := range ni.GetPorts() {
		if pm.GetContainerPort() != containerPort {
			continue
		}
		if ni.GetPreferredAddress() == "INSTANCE" && ni.GetInstanceAddress() != "" {
			return ni.GetInstanceAddress(), int(pm.GetContainerPort()), int(pm.GetContainerTlsProxyPort())
		}
		return ni.GetAddress(), int(pm.GetHostPort()), int(pm.GetHostTlsProxyPort())
	}
	return "", 0, 0
}

// key identifies a registration: re-registering under the same key
// updates it in the router, a different key is a different endpoint.
type key struct {
	instance, host string
	port, tlsPort  int
	uri            string
}

func keyOf(m router.RegistryMessage) key {
	return key{m.PrivateInstanceID, m.Host, m.Port, m.TLSPort, m.URIs[0]}
}

func equal(a, b router.RegistryMessage) bool {
	return a.Host == b.Host && a.Port == b.Port && a.TLSPort == b.TLSPort && slices.Equal(a.URIs, b.URIs) &&
		a.App == b.App && a.PrivateInstanceID == b.PrivateInstanceID && a.PrivateInstanceIndex == b.PrivateInstanceIndex &&
		a.ServerCertDomainSAN == b.ServerCertDomainSAN && a.RouteServiceURL == b.RouteServiceURL &&
		maps.Equal(a.Tags, b.Tags) && a.IsolationSegment == b.IsolationSegment && a.Protocol == b.Protocol &&
		a.EndpointUpdatedAtNs == b.EndpointUpdatedAtNs && a.Options == b.Options && a.Version == b.Version
}

func slotOf(a *bbsv1.ActualLRP) slot {
	return slot{a.GetKey().GetIndex(), a.GetPresence()}
}

// stale reports whether next is older than cur: same incarnation (epoch),
// lower index.
func stale(cur, next *bbsv1.ModificationTag) bool {
	return cur != nil && next != nil && cur.GetEpoch() == next.GetEpoch() && next.GetIndex() < cur.GetIndex()
}

// sameIncarnation reports whether a removal names the stored record's
// incarnation (unknown tags match).
func sameIncarnation(cur, removed *bbsv1.ModificationTag) bool {
	return cur.GetEpoch() == "" || removed.GetEpoch() == "" || cur.GetEpoch() == removed.GetEpoch()
}
