package cellregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// publishTimeout bounds how long the publish loop waits for one metadata
// update to be gossiped before it takes the next. The update keeps
// spreading after the timeout; waiting only paces bursts of UpdateCell.
const publishTimeout = time.Second

// Member says what this process is in the cluster.
type Member struct {
	// Cell, when set, makes this member a cell (a rep) that publishes the
	// presence; its cell_id becomes the member's node name. Nil makes it an
	// observer (the BBS, the auctioneer), which only watches.
	Cell *bbsv1.CellPresence
}

// Deps are the registry's collaborators. Both are optional.
type Deps struct {
	// Logger receives the registry's logs and memberlist's; nil discards.
	Logger *slog.Logger
	// Registerer, when set, gets the registry's metrics (see metrics.go).
	Registerer prometheus.Registerer
}

// Registry is this process's membership in the cell cluster. Create it with
// New, run it with Run; it is safe for concurrent use.
type Registry struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	name    string // memberlist node name
	isCell  bool
	key     []byte // decoded SecretKey, nil for plaintext

	ready    chan struct{}
	joined   chan struct{} // closed by markJoined
	joinOnce sync.Once
	started  atomic.Bool
	dirty    chan struct{} // cap 1: UpdateCell → publish loop
	peerLost chan struct{} // cap 1: a member went away → join loop

	// metaMu guards self and leaving, and orders writes of metaBytes.
	metaMu    sync.Mutex
	self      *bbsv1.CellPresence // cells only
	leaving   bool
	metaBytes atomic.Pointer[[]byte] // the current envelope, read by NodeMeta

	// updateMu serializes memberlist.UpdateNode calls, so that a later
	// call never gossips older metadata with a newer incarnation.
	updateMu sync.Mutex

	// lifeMu guards the memberlist instance's shutdown.
	lifeMu    sync.Mutex
	ml        *memberlist.Memberlist
	stopLoops context.CancelFunc
	crashed   bool
	closing   atomic.Bool // memberlist is shutting down: its logs are noise

	// mu guards the view of the cluster and the subscribers. memberlist's
	// callbacks take it (see the lock order in doc.go).
	mu      sync.Mutex
	addr    string
	members map[string]*member
	subs    map[*subscriber]struct{}
	stopped bool // Run has returned
}

// New checks cfg (applying Defaults to its copy) and self, and returns a
// registry that does nothing until Run. Errors wrap ErrMetadataTooLarge
// when self's presence does not fit in the node metadata.
func New(cfg Config, self Member, deps Deps) (*Registry, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cellregistry: invalid config: %w", err)
	}
	key, _ := decodeKey(cfg.SecretKey) // checked by Validate
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg:      cfg,
		logger:   logger,
		key:      key,
		ready:    make(chan struct{}),
		joined:   make(chan struct{}),
		dirty:    make(chan struct{}, 1),
		peerLost: make(chan struct{}, 1),
		members:  make(map[string]*member),
		subs:     make(map[*subscriber]struct{}),
	}

	var m meta
	if self.Cell != nil {
		id := self.Cell.GetCellId()
		if cfg.NodeName != "" && cfg.NodeName != id {
			return nil, fmt.Errorf("cellregistry: node_name %q differs from cell_id %q: a cell's node name is its cell_id", cfg.NodeName, id)
		}
		r.isCell, r.name = true, id
		r.self = proto.CloneOf(self.Cell)
		m = meta{kind: kindCell, cell: r.self}
	} else {
		r.name = cfg.NodeName
		if r.name == "" {
			r.name = "observer-" + randomHex(6)
		}
		m = meta{kind: kindObserver}
	}
	b, err := encodeMeta(m)
	if err != nil {
		return nil, fmt.Errorf("cellregistry: %w", err)
	}
	r.metaBytes.Store(&b)

	if r.metrics, err = newMetrics(deps.Registerer); err != nil {
		return nil, fmt.Errorf("cellregistry: %w", err)
	}
	return r, nil
}

// Run starts gossiping: it binds the listeners, closes Ready, and joins the
// seeds in the background, retrying until one answers, and again whenever
// this member becomes isolated (see doc.go). When ctx ends it leaves the
// cluster gracefully, shuts memberlist down and returns nil: within
// LeaveTimeout, plus up to 5 s (memberlist's TCP timeout) if a join attempt
// to an unreachable seed is in flight. It returns an error only if the
// listeners cannot be set up, or if called a second time.
func (r *Registry) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("cellregistry: Run called more than once")
	}
	defer r.stop()

	ml, err := memberlist.Create(r.memberlistConfig())
	if err != nil {
		return fmt.Errorf("cellregistry: start gossip on %s: %w", r.cfg.Bind, err)
	}
	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	r.lifeMu.Lock()
	r.ml, r.stopLoops = ml, stopLoops
	r.lifeMu.Unlock()

	role := kindObserver
	if r.isCell {
		role = kindCell
	}
	r.logger.Info("cell registry listening", "addr", r.Addr(), "node", r.name, "role", role.String(),
		"encrypted", r.key != nil, "seeds", r.cfg.Join)
	close(r.ready)

	var wg sync.WaitGroup
	wg.Go(func() { r.joinLoop(loopCtx, ml) })
	wg.Go(func() { r.publishLoop(loopCtx, ml) })

	<-ctx.Done()
	stopLoops()
	r.leave(ml)
	// A join attempt in flight ends within memberlist's TCP timeout.
	wg.Wait()
	return nil
}

// Ready is closed once Run has bound the listeners, before any join.
func (r *Registry) Ready() <-chan struct{} { return r.ready }

// Joined is closed once this member is part of a cluster: a join to a seed
// succeeded, another member joined it, or it has no seeds to join. From
// then on Cells reflects the cluster, so a member that acts on missing cells
// (the BBS's convergence) waits for it.
func (r *Registry) Joined() <-chan struct{} { return r.joined }

func (r *Registry) markJoined() { r.joinOnce.Do(func() { close(r.joined) }) }

// Addr returns the address other members reach this one at, host:port,
// with the port actually bound when Bind asked for port 0. It is empty
// before Ready.
func (r *Registry) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// UpdateCell replaces this cell's presence and gossips it. It returns at
// once: the update reaches the other members within a few gossip
// intervals, and rapid updates are coalesced. It returns ErrNotCell on an
// observer, an error wrapping ErrMetadataTooLarge when the presence does
// not fit (the old presence stays published), and an error when the
// presence is invalid or its cell_id is not this cell's. Before Run the
// presence is what Run will publish.
func (r *Registry) UpdateCell(p *bbsv1.CellPresence) error {
	if !r.isCell {
		return ErrNotCell
	}
	if p == nil {
		return fmt.Errorf("update cell %s: presence is nil", r.name)
	}
	if p.GetCellId() != r.name {
		return fmt.Errorf("update cell %s: cell_id %q cannot change", r.name, p.GetCellId())
	}
	r.metaMu.Lock()
	p = proto.CloneOf(p)
	b, err := encodeMeta(meta{kind: kindCell, leaving: r.leaving, cell: p})
	if err != nil {
		r.metaMu.Unlock()
		return fmt.Errorf("update cell %s: %w", r.name, err)
	}
	r.self = p
	r.metaBytes.Store(&b)
	r.metaMu.Unlock()

	select {
	case r.dirty <- struct{}{}:
	default: // an update is already pending; it will read the new bytes
	}
	return nil
}

// publishLoop gossips metadata changes signalled by UpdateCell.
func (r *Registry) publishLoop(ctx context.Context, ml *memberlist.Memberlist) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
		}
		if err := r.updateNode(ctx, ml, publishTimeout); err != nil {
			r.logger.Debug("cell presence update still being gossiped", "err", err)
		}
	}
}

// updateNode re-announces this member's metadata and waits up to timeout
// for the announcement to be gossiped. It does nothing once ctx is done,
// checked under updateMu, so that no update follows the leave.
func (r *Registry) updateNode(ctx context.Context, ml *memberlist.Memberlist, timeout time.Duration) error {
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	// memberlist treats 0 as "wait forever".
	return ml.UpdateNode(max(timeout, time.Millisecond))
}

// leave announces a cell's leave in its metadata, so that observers report
// Left rather than Failed, then leaves the cluster and shuts memberlist
// down, all within LeaveTimeout.
func (r *Registry) leave(ml *memberlist.Memberlist) {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.crashed {
		return
	}
	deadline := time.Now().Add(r.cfg.LeaveTimeout)
	if r.isCell {
		r.metaMu.Lock()
		r.leaving = true
		b, err := encodeMeta(meta{kind: kindCell, leaving: true, cell: r.self})
		if err == nil { // same size as the current, valid encoding
			r.metaBytes.Store(&b)
		}
		r.metaMu.Unlock()
		if err := r.updateNode(context.Background(), ml, time.Until(deadline)); err != nil {
			r.logger.Warn("leave announcement not confirmed", "err", err)
		}
	}
	if err := ml.Leave(max(time.Until(deadline), time.Millisecond)); err != nil {
		r.logger.Warn("leave not confirmed; members will notice the failure instead", "err", err)
	}
	r.closing.Store(true)
	if err := ml.Shutdown(); err != nil {
		r.logger.Warn("memberlist shutdown", "err", err)
	}
	r.logger.Info("left cell registry cluster", "node", r.name)
}

// crash stops gossiping without leaving, as if the process died: the other
// members notice only through failed probes. For tests.
func (r *Registry) crash() {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.ml == nil || r.crashed {
		return
	}
	r.crashed = true
	r.closing.Store(true)
	r.stopLoops()
	_ = r.ml.Shutdown()
}

// stop forgets the cluster and closes the subscriptions when Run returns.
func (r *Registry) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	clear(r.members)
	r.closeSubscribersLocked()
	r.metrics.cells.Set(0)
}

// delegate gives memberlist this member's metadata.
type delegate struct{ r *Registry }

var _ memberlist.Delegate = delegate{}

func (d delegate) NodeMeta(limit int) []byte {
	b := *d.r.metaBytes.Load()
	if len(b) > limit { // cannot happen: encodeMeta checks MetaMaxSize
		return nil
	}
	return b
}

func (delegate) NotifyMsg([]byte)                  {}
func (delegate) GetBroadcasts(_, _ int) [][]byte   { return nil }
func (delegate) LocalState(bool) []byte            { return nil }
func (delegate) MergeRemoteState(_ []byte, _ bool) {}

// memberlistConfig translates cfg; Validate has checked every field.
func (r *Registry) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = r.name
	mc.BindAddr, mc.BindPort, _ = parseBind(r.cfg.Bind)
	mc.AdvertiseAddr, mc.AdvertisePort = "", mc.BindPort
	if r.cfg.Advertise != "" {
		var port int
		mc.AdvertiseAddr, port, _ = parseAdvertise(r.cfg.Advertise)
		if port != 0 {
			mc.AdvertisePort = port
		}
	}
	mc.Label = r.cfg.Cluster
	mc.SecretKey = r.key
	mc.ProbeInterval = r.cfg.ProbeInterval
	mc.ProbeTimeout = r.cfg.ProbeTimeout
	mc.SuspicionMult = r.cfg.SuspicionMult
	mc.GossipInterval = r.cfg.GossipInterval
	// Bounds a join attempt to an unreachable seed, and so Run's shutdown.
	mc.TCPTimeout = 5 * time.Second
	mc.Delegate = delegate{r}
	mc.Events = events{r}
	mc.Logger = log.New(logBridge{r.logger, &r.closing}, "", 0)
	return mc
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
