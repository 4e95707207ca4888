package web

import (
	"context"
	"time"

	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// The seams to Diego. Cloud Controller II part A has no Diego client: the
// handlers call these interfaces, and a nil implementation means "no Diego
// wired yet". The Diego sync (a later part) implements them against the
// BBS and log-cache, and is passed in through Deps.

// Desirer keeps Diego's desired LRPs in step with the started processes.
// The handlers call Desire whenever a process of a STARTED app changes
// (start, scale, update, manifest) and Remove when it stops or is deleted.
// Calls are best-effort from the handlers' side: a failure is logged and
// the periodic reconciler repairs the drift, as CF's bulker does.
type Desirer interface {
	// Desire creates or updates the desired LRP of p (p.AppState is
	// STARTED). The implementation loads what else it needs (droplet,
	// environment, routes) from the store.
	Desire(ctx context.Context, p store.Process) error
	// Remove deletes the desired LRP of the process, if any.
	Remove(ctx context.Context, processGUID string) error
}

// instanceStopper is implemented by a Desirer that can stop one instance
// (DELETE /v3/processes/:guid/instances/:index); Diego restarts it.
type instanceStopper interface {
	StopInstance(ctx context.Context, processGUID string, index int) error
}

// InstanceReporter reports the actual instances of a process for /stats.
type InstanceReporter interface {
	// Instances returns what Diego knows of the process's instances,
	// in any order; indexes without an entry are shown as DOWN.
	Instances(ctx context.Context, processGUID string) ([]InstanceState, error)
}

// Instance states, as CF names them.
const (
	InstanceRunning  = "RUNNING"
	InstanceStarting = "STARTING"
	InstanceCrashed  = "CRASHED"
	InstanceDown     = "DOWN"
)

// InstanceState is one actual instance of a process.
type InstanceState struct {
	Index int
	State string
	// Since is when the instance entered State (uptime is counted from
	// it for RUNNING instances).
	Since    time.Time
	Host     string
	Ports    []InstancePort
	Routable *bool
	Details  string
	Usage    *InstanceUsage
}

// InstancePort is a port mapping of an instance.
type InstancePort struct {
	External, Internal, ExternalTLSProxy, InternalTLSProxy int
}

// InstanceUsage is an instance's last resource gauges.
type InstanceUsage struct {
	Time           time.Time
	CPU            float64
	CPUEntitlement *float64
	MemBytes       uint64
	DiskBytes      uint64
	LogRate        uint64
}

// desire tells Diego about the processes of a started app; without a
// Desirer it does nothing.
func (s *Server) desire(ctx context.Context, procs ...store.Process) {
	if s.desirer == nil {
		return
	}
	for _, p := range procs {
		if p.AppState != store.AppStarted {
			continue
		}
		if err := s.desirer.Desire(context.WithoutCancel(ctx), p); err != nil {
			s.logger.Warn("desire process", "process", p.GUID, "app", p.AppGUID, "err", err)
		}
	}
}

// undesire removes processes from Diego; without a Desirer it does
// nothing.
func (s *Server) undesire(ctx context.Context, procs ...store.Process) {
	if s.desirer == nil {
		return
	}
	for _, p := range procs {
		if err := s.desirer.Remove(context.WithoutCancel(ctx), p.GUID); err != nil {
			s.logger.Warn("remove process", "process", p.GUID, "app", p.AppGUID, "err", err)
		}
	}
}

// undesireWhere removes from Diego the processes matching cond (apps of a
// space or organization about to be deleted, whose rows go by cascade).
func (s *Server) undesireWhere(ctx context.Context, cond string, args ...any) error {
	if s.desirer == nil {
		return nil
	}
	f := store.Filter{}
	f.Where(cond, args...)
	procs, _, err := s.store.ListProcesses(ctx, f)
	if err != nil {
		return err
	}
	s.undesire(ctx, procs...)
	return nil
}
