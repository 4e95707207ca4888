package executor

import (
	"context"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// kind tells LRP instances from tasks.
type kind int

const (
	kindLRP kind = iota + 1
	kindTask
)

func (k kind) String() string {
	if k == kindTask {
		return "task"
	}
	return "lrp"
}

// state is where a container is in its lifecycle (Diego's executor
// states).
type state int

const (
	// reserved: resources held, not yet claimed (or started) in the BBS.
	stateReserved state = iota
	// initializing: claimed; downloading and creating the container.
	stateInitializing
	// created: the container exists and its process runs, not yet
	// healthy (LRPs).
	stateCreated
	// running: healthy and started in the BBS (LRPs), or running (tasks).
	stateRunning
	// completed: the process ended or was stopped; reporting and
	// destroying.
	stateCompleted
)

var stateNames = [...]string{"reserved", "initializing", "created", "running", "completed"}

func (s state) String() string { return stateNames[s] }

// stopReason says why a container is being stopped, which decides what
// the BBS is told once it is gone.
type stopReason int

const (
	stopNone stopReason = iota
	// stopRemove: StopLRPInstance. RemoveActualLRP (EvacuateStopped while
	// evacuating).
	stopRemove
	// stopCancel: CancelTask, or a task the BBS no longer runs here.
	// Nothing is reported.
	stopCancel
	// stopSilent: the BBS no longer has the instance here, or evacuation
	// was told not to keep it. Nothing is reported.
	stopSilent
	// stopEvacuated: the cell is evacuating and this container cannot be
	// kept (claimed, or the evacuation timed out): EvacuateClaimed or
	// EvacuateStopped; a task is completed as failed.
	stopEvacuated
)

// The process ids inside containers.
const (
	appProcess  = "app"
	taskProcess = "task"
)

// instance is one container: an LRP instance or a task. Fields above mu's
// line are fixed at creation; the rest are guarded by Executor.mu. Only
// the instance's own goroutine sets state, ctr, routable and netInfo.
type instance struct {
	guid     string // the container id: instance guid or task guid
	kind     kind
	key      *bbsv1.ActualLRPKey         // LRPs
	ik       *bbsv1.ActualLRPInstanceKey // LRPs
	task     *bbsv1.Task                 // tasks started by Perform; nil once recovered
	memoryMB int32
	diskMB   int32
	stopCh   chan struct{} // closed by requestStop
	done     chan struct{} // closed when the goroutine returned and the instance left the map
	cancel   context.CancelFunc

	// guarded by Executor.mu
	state     state
	claimed   bool      // claimed (LRP) or started (task) in the BBS
	claimedAt time.Time // when claimed
	stop      stopReason
	ctr       *runtime.Container
	run       runInfo
	routable  bool
	netInfo   *bbsv1.ActualLRPNetInfo
	evacKept  bool // evacuation was told to keep it

	// only the metrics loop reads and writes these
	lastCPU   time.Duration
	lastCPUAt time.Time
}

// requestStopLocked marks inst to stop for reason, once. e.mu is held.
func (inst *instance) requestStopLocked(reason stopReason) bool {
	if inst.stop != stopNone {
		return false
	}
	inst.stop = reason
	close(inst.stopCh)
	inst.cancel()
	return true
}

// stopping is closed once inst was asked to stop.
func (inst *instance) stopping() <-chan struct{} { return inst.stopCh }

// starting reports whether an LRP instance counts as starting for
// placement.
func (inst *instance) startingLocked() bool {
	return inst.kind == kindLRP && inst.state < stateRunning
}
