// Package fakebbs is an in-memory BBS for the rep's tests. It keeps desired
// LRPs, actual LRPs (ordinary and evacuating records) and tasks, and
// follows the real BBS's transition rules for the calls a rep makes —
// claims, starts, crashes, removals, the evacuation calls, task starts and
// completions — closely enough to test a rep against, without Postgres.
// Simplifications: a crashed instance stays CRASHED (no restart policy), and
// nothing is auctioned.
//
// Serve it over gRPC (it is a bbsv1.BBSServiceServer) or call it in
// process through Client. Every call is recorded (Calls); FailNext makes
// the next call of a method fail.
package fakebbs

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

const (
	unclaimed  = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED
	claimed    = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
	running    = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	crashed    = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED
	ordinary   = bbsv1.Presence_PRESENCE_ORDINARY
	evacuating = bbsv1.Presence_PRESENCE_EVACUATING
)

// Call is one recorded call.
type Call struct {
	Method string
	Req    proto.Message
}

type slotKey struct {
	guid  string
	index int32
}

type slot struct {
	ord, evac *bbsv1.ActualLRP
}

var _ bbsv1.BBSServiceServer = (*BBS)(nil)

// BBS is the fake. The zero value is not usable; call New.
type BBS struct {
	bbsv1.UnimplementedBBSServiceServer

	mu      sync.Mutex
	desired map[string]*bbsv1.DesiredLRP
	slots   map[slotKey]*slot
	tasks   map[string]*bbsv1.Task
	calls   []Call
	fail    map[string][]error
}

// New returns an empty fake BBS.
func New() *BBS {
	return &BBS{
		desired: map[string]*bbsv1.DesiredLRP{},
		slots:   map[slotKey]*slot{},
		tasks:   map[string]*bbsv1.Task{},
		fail:    map[string][]error{},
	}
}

// AddLRP stores lrp and an UNCLAIMED instance for each of its indices.
func (b *BBS) AddLRP(lrp *bbsv1.DesiredLRP) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.desired[lrp.GetProcessGuid()] = proto.CloneOf(lrp)
	for i := range lrp.GetInstances() {
		k := slotKey{lrp.GetProcessGuid(), i}
		if b.slots[k] == nil {
			b.slots[k] = &slot{ord: &bbsv1.ActualLRP{
				Key:   &bbsv1.ActualLRPKey{ProcessGuid: k.guid, Index: i, Domain: lrp.GetDomain()},
				State: unclaimed, Presence: ordinary,
			}}
		}
	}
}

// ForgetLRP forgets the desired LRP (its instances stay).
func (b *BBS) ForgetLRP(guid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.desired, guid)
}

// SetActual stores a record as it is, replacing the slot's record of its
// presence.
func (b *BBS) SetActual(a *bbsv1.ActualLRP) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.slotLocked(a.GetKey().GetProcessGuid(), a.GetKey().GetIndex())
	if a.GetPresence() == evacuating {
		s.evac = proto.CloneOf(a)
	} else {
		s.ord = proto.CloneOf(a)
	}
}

// Actual returns a copy of the ordinary record of a slot, or nil.
func (b *BBS) Actual(guid string, index int32) *bbsv1.ActualLRP {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.slots[slotKey{guid, index}]; s != nil && s.ord != nil {
		return proto.CloneOf(s.ord)
	}
	return nil
}

// Evacuating returns a copy of the evacuating record of a slot, or nil.
func (b *BBS) Evacuating(guid string, index int32) *bbsv1.ActualLRP {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.slots[slotKey{guid, index}]; s != nil && s.evac != nil {
		return proto.CloneOf(s.evac)
	}
	return nil
}

// PutTask stores a task as it is.
func (b *BBS) PutTask(t *bbsv1.Task) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks[t.GetTaskGuid()] = proto.CloneOf(t)
}

// Task returns a copy of a task, or nil.
func (b *BBS) Task(guid string) *bbsv1.Task {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.tasks[guid]; t != nil {
		return proto.CloneOf(t)
	}
	return nil
}

// Calls returns the recorded calls of method ("" for all).
func (b *BBS) Calls(method string) []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Call
	for _, c := range b.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// FailNext makes the next call of method return err (calls queue up).
func (b *BBS) FailNext(method string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail[method] = append(b.fail[method], err)
}

// begin records a call and returns the error it must fail with, if any.
// It locks b.mu; the caller unlocks.
func (b *BBS) begin(method string, req proto.Message) error {
	b.mu.Lock()
	b.calls = append(b.calls, Call{Method: method, Req: proto.Clone(req)})
	if errs := b.fail[method]; len(errs) > 0 {
		b.fail[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (b *BBS) slotLocked(guid string, index int32) *slot {
	k := slotKey{guid, index}
	s := b.slots[k]
	if s == nil {
		s = &slot{}
		b.slots[k] = s
	}
	return s
}

func (b *BBS) tidyLocked(guid string, index int32) {
	k := slotKey{guid, index}
	if s := b.slots[k]; s != nil && s.ord == nil && s.evac == nil {
		delete(b.slots, k)
	}
}

func sameInstance(a, b *bbsv1.ActualLRPInstanceKey) bool {
	return a.GetInstanceGuid() == b.GetInstanceGuid() && a.GetCellId() == b.GetCellId()
}

func notFound(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, format, args...)
}

func invalid(format string, args ...any) error {
	return bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, format, args...)
}

func describe(k *bbsv1.ActualLRPKey) string {
	return fmt.Sprintf("%s/%d", k.GetProcessGuid(), k.GetIndex())
}

// GetDesiredLRP returns a desired LRP.
func (b *BBS) GetDesiredLRP(_ context.Context, req *bbsv1.GetDesiredLRPRequest) (*bbsv1.GetDesiredLRPResponse, error) {
	err := b.begin("GetDesiredLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	d := b.desired[req.GetProcessGuid()]
	if d == nil {
		return nil, notFound("desired lrp %s not found", req.GetProcessGuid())
	}
	return &bbsv1.GetDesiredLRPResponse{DesiredLrp: proto.CloneOf(d)}, nil
}

// ListActualLRPs lists records, ordinary and evacuating, matching the
// filter's cell_id and process_guid.
func (b *BBS) ListActualLRPs(_ context.Context, req *bbsv1.ListActualLRPsRequest) (*bbsv1.ListActualLRPsResponse, error) {
	err := b.begin("ListActualLRPs", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	resp := &bbsv1.ListActualLRPsResponse{}
	for k, s := range b.slots {
		if f.GetProcessGuid() != "" && k.guid != f.GetProcessGuid() {
			continue
		}
		for _, a := range []*bbsv1.ActualLRP{s.ord, s.evac} {
			if a != nil && (f.GetCellId() == "" || a.GetInstanceKey().GetCellId() == f.GetCellId()) {
				resp.ActualLrps = append(resp.ActualLrps, proto.CloneOf(a))
			}
		}
	}
	sort.Slice(resp.ActualLrps, func(i, j int) bool {
		return describe(resp.ActualLrps[i].GetKey()) < describe(resp.ActualLrps[j].GetKey())
	})
	return resp, nil
}

// ClaimActualLRP: UNCLAIMED → CLAIMED.
func (b *BBS) ClaimActualLRP(_ context.Context, req *bbsv1.ClaimActualLRPRequest) (*bbsv1.ClaimActualLRPResponse, error) {
	err := b.begin("ClaimActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := b.slots[slotKey{req.GetProcessGuid(), req.GetIndex()}]
	if s == nil || s.ord == nil {
		return nil, notFound("actual lrp %s/%d not found", req.GetProcessGuid(), req.GetIndex())
	}
	a := s.ord
	switch {
	case a.GetState() == claimed && sameInstance(a.GetInstanceKey(), req.GetInstanceKey()):
	case a.GetState() == unclaimed:
		a.State = claimed
		a.InstanceKey = proto.CloneOf(req.GetInstanceKey())
	default:
		return nil, invalid("actual lrp %s/%d cannot be claimed: it is %s", req.GetProcessGuid(), req.GetIndex(), a.GetState())
	}
	return &bbsv1.ClaimActualLRPResponse{}, nil
}

// StartActualLRP: → RUNNING, creating the record when missing; a running
// ordinary instance ends the slot's evacuating record.
func (b *BBS) StartActualLRP(_ context.Context, req *bbsv1.StartActualLRPRequest) (*bbsv1.StartActualLRPResponse, error) {
	err := b.begin("StartActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := b.slotLocked(req.GetKey().GetProcessGuid(), req.GetKey().GetIndex())
	a := s.ord
	switch {
	case a == nil:
		a = &bbsv1.ActualLRP{Key: proto.CloneOf(req.GetKey()), Presence: ordinary}
		s.ord = a
	case a.GetState() == unclaimed,
		(a.GetState() == claimed || a.GetState() == running) && sameInstance(a.GetInstanceKey(), req.GetInstanceKey()):
	default:
		return nil, invalid("actual lrp %s cannot be started: it is %s", describe(req.GetKey()), a.GetState())
	}
	a.State = running
	a.InstanceKey = proto.CloneOf(req.GetInstanceKey())
	a.NetInfo = proto.CloneOf(req.GetNetInfo())
	a.Routable = req.GetRoutable()
	a.AvailabilityZone = req.GetAvailabilityZone()
	s.evac = nil
	return &bbsv1.StartActualLRPResponse{}, nil
}

// CrashActualLRP: the CLAIMED or RUNNING instance → CRASHED.
func (b *BBS) CrashActualLRP(_ context.Context, req *bbsv1.CrashActualLRPRequest) (*bbsv1.CrashActualLRPResponse, error) {
	err := b.begin("CrashActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &bbsv1.CrashActualLRPResponse{}, b.crashLocked(req.GetKey(), req.GetInstanceKey(), req.GetErrorMessage())
}

func (b *BBS) crashLocked(key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, reason string) error {
	s := b.slots[slotKey{key.GetProcessGuid(), key.GetIndex()}]
	if s == nil || s.ord == nil {
		return notFound("actual lrp %s not found", describe(key))
	}
	a := s.ord
	if (a.GetState() != claimed && a.GetState() != running) || !sameInstance(a.GetInstanceKey(), ik) {
		return invalid("actual lrp %s cannot be crashed: it is %s", describe(key), a.GetState())
	}
	a.State = crashed
	a.CrashCount++
	a.CrashReason = reason
	a.InstanceKey, a.NetInfo, a.Routable = nil, nil, false
	return nil
}

// RemoveActualLRP deletes the ordinary record (of instance_key, when set).
func (b *BBS) RemoveActualLRP(_ context.Context, req *bbsv1.RemoveActualLRPRequest) (*bbsv1.RemoveActualLRPResponse, error) {
	err := b.begin("RemoveActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := b.slots[slotKey{req.GetProcessGuid(), req.GetIndex()}]
	ik := req.GetInstanceKey()
	if s == nil || s.ord == nil || (ik.GetInstanceGuid() != "" && !sameInstance(s.ord.GetInstanceKey(), ik)) {
		return nil, notFound("actual lrp %s/%d not found", req.GetProcessGuid(), req.GetIndex())
	}
	s.ord = nil
	b.tidyLocked(req.GetProcessGuid(), req.GetIndex())
	return &bbsv1.RemoveActualLRPResponse{}, nil
}

// EvacuateClaimedActualLRP: the instance becomes UNCLAIMED again (or its
// evacuating record goes); keep is false.
func (b *BBS) EvacuateClaimedActualLRP(_ context.Context, req *bbsv1.EvacuateClaimedActualLRPRequest) (*bbsv1.EvacuateClaimedActualLRPResponse, error) {
	err := b.begin("EvacuateClaimedActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := b.slots[slotKey{req.GetKey().GetProcessGuid(), req.GetKey().GetIndex()}]
	switch {
	case s != nil && s.ord != nil && sameInstance(s.ord.GetInstanceKey(), req.GetInstanceKey()):
		s.ord.State, s.ord.InstanceKey, s.ord.NetInfo = unclaimed, nil, nil
	case s != nil && s.evac != nil && sameInstance(s.evac.GetInstanceKey(), req.GetInstanceKey()):
		s.evac = nil
	default:
		return nil, notFound("actual lrp %s not found", describe(req.GetKey()))
	}
	return &bbsv1.EvacuateClaimedActualLRPResponse{}, nil
}

// EvacuateRunningActualLRP follows Diego's rules: the ordinary instance
// moves to an evacuating record and a new UNCLAIMED one replaces it (keep);
// the evacuating record is kept until the replacement runs (then keep is
// false).
func (b *BBS) EvacuateRunningActualLRP(_ context.Context, req *bbsv1.EvacuateRunningActualLRPRequest) (*bbsv1.EvacuateRunningActualLRPResponse, error) {
	err := b.begin("EvacuateRunningActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	key, ik := req.GetKey(), req.GetInstanceKey()
	s := b.slots[slotKey{key.GetProcessGuid(), key.GetIndex()}]
	no := &bbsv1.EvacuateRunningActualLRPResponse{}
	yes := &bbsv1.EvacuateRunningActualLRPResponse{KeepContainer: true}
	if s == nil {
		return no, nil
	}
	ownEvac := s.evac != nil && sameInstance(s.evac.GetInstanceKey(), ik)
	if b.desired[key.GetProcessGuid()] == nil {
		if ownEvac {
			s.evac = nil
			b.tidyLocked(key.GetProcessGuid(), key.GetIndex())
		}
		return no, nil
	}
	if s.ord != nil && sameInstance(s.ord.GetInstanceKey(), ik) {
		if st := s.ord.GetState(); st != running && st != claimed {
			return no, nil
		}
		e := proto.CloneOf(s.ord)
		e.Presence, e.State, e.NetInfo = evacuating, running, proto.CloneOf(req.GetNetInfo())
		s.evac = e
		s.ord = &bbsv1.ActualLRP{Key: proto.CloneOf(s.ord.GetKey()), State: unclaimed, Presence: ordinary}
		return yes, nil
	}
	if s.ord != nil && (s.ord.GetState() == running || s.ord.GetState() == crashed) {
		if ownEvac {
			s.evac = nil
		}
		return no, nil
	}
	if s.evac != nil && !ownEvac {
		return no, nil
	}
	if s.evac == nil {
		s.evac = &bbsv1.ActualLRP{Key: proto.CloneOf(key), InstanceKey: proto.CloneOf(ik), State: running, Presence: evacuating, Routable: true}
	}
	s.evac.NetInfo = proto.CloneOf(req.GetNetInfo())
	return yes, nil
}

// EvacuateStoppedActualLRP removes the instance's record; keep is false.
func (b *BBS) EvacuateStoppedActualLRP(_ context.Context, req *bbsv1.EvacuateStoppedActualLRPRequest) (*bbsv1.EvacuateStoppedActualLRPResponse, error) {
	err := b.begin("EvacuateStoppedActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	key := req.GetKey()
	s := b.slots[slotKey{key.GetProcessGuid(), key.GetIndex()}]
	switch {
	case s != nil && s.evac != nil && sameInstance(s.evac.GetInstanceKey(), req.GetInstanceKey()):
		s.evac = nil
	case s != nil && s.ord != nil && sameInstance(s.ord.GetInstanceKey(), req.GetInstanceKey()):
		s.ord = nil
	default:
		return nil, notFound("actual lrp %s not found", describe(key))
	}
	b.tidyLocked(key.GetProcessGuid(), key.GetIndex())
	return &bbsv1.EvacuateStoppedActualLRPResponse{}, nil
}

// EvacuateCrashedActualLRP removes the evacuating record or crashes the
// ordinary instance; keep is false.
func (b *BBS) EvacuateCrashedActualLRP(_ context.Context, req *bbsv1.EvacuateCrashedActualLRPRequest) (*bbsv1.EvacuateCrashedActualLRPResponse, error) {
	err := b.begin("EvacuateCrashedActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	key := req.GetKey()
	s := b.slots[slotKey{key.GetProcessGuid(), key.GetIndex()}]
	if s != nil && s.evac != nil && sameInstance(s.evac.GetInstanceKey(), req.GetInstanceKey()) {
		s.evac = nil
		b.tidyLocked(key.GetProcessGuid(), key.GetIndex())
		return &bbsv1.EvacuateCrashedActualLRPResponse{}, nil
	}
	return &bbsv1.EvacuateCrashedActualLRPResponse{}, b.crashLocked(key, req.GetInstanceKey(), req.GetErrorMessage())
}

// RemoveEvacuatingActualLRP deletes the instance's evacuating record.
func (b *BBS) RemoveEvacuatingActualLRP(_ context.Context, req *bbsv1.RemoveEvacuatingActualLRPRequest) (*bbsv1.RemoveEvacuatingActualLRPResponse, error) {
	err := b.begin("RemoveEvacuatingActualLRP", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	key := req.GetKey()
	s := b.slots[slotKey{key.GetProcessGuid(), key.GetIndex()}]
	if s == nil || s.evac == nil || !sameInstance(s.evac.GetInstanceKey(), req.GetInstanceKey()) {
		return nil, notFound("evacuating actual lrp %s not found", describe(key))
	}
	s.evac = nil
	b.tidyLocked(key.GetProcessGuid(), key.GetIndex())
	return &bbsv1.RemoveEvacuatingActualLRPResponse{}, nil
}

// StartTask: PENDING → RUNNING on the cell.
func (b *BBS) StartTask(_ context.Context, req *bbsv1.StartTaskRequest) (*bbsv1.StartTaskResponse, error) {
	err := b.begin("StartTask", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := b.tasks[req.GetTaskGuid()]
	switch {
	case t == nil:
		return nil, notFound("task %s not found", req.GetTaskGuid())
	case t.GetState() == bbsv1.TaskState_TASK_STATE_PENDING:
		t.State, t.CellId = bbsv1.TaskState_TASK_STATE_RUNNING, req.GetCellId()
		return &bbsv1.StartTaskResponse{ShouldStart: true}, nil
	case t.GetState() == bbsv1.TaskState_TASK_STATE_RUNNING && t.GetCellId() == req.GetCellId():
		return &bbsv1.StartTaskResponse{}, nil
	case t.GetState() == bbsv1.TaskState_TASK_STATE_RUNNING:
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL, "task %s runs on %s", t.GetTaskGuid(), t.GetCellId())
	}
	return nil, invalid("task %s cannot be started: it is %s", t.GetTaskGuid(), t.GetState())
}

// CompleteTask: RUNNING on the cell → COMPLETED.
func (b *BBS) CompleteTask(_ context.Context, req *bbsv1.CompleteTaskRequest) (*bbsv1.CompleteTaskResponse, error) {
	err := b.begin("CompleteTask", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := b.tasks[req.GetTaskGuid()]
	switch {
	case t == nil:
		return nil, notFound("task %s not found", req.GetTaskGuid())
	case t.GetState() != bbsv1.TaskState_TASK_STATE_RUNNING:
		return nil, invalid("task %s cannot be completed: it is %s", t.GetTaskGuid(), t.GetState())
	case t.GetCellId() != req.GetCellId():
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RUNNING_ON_DIFFERENT_CELL, "task %s runs on %s", t.GetTaskGuid(), t.GetCellId())
	}
	t.State, t.CellId = bbsv1.TaskState_TASK_STATE_COMPLETED, ""
	t.Failed, t.FailureReason, t.Result = req.GetFailed(), req.GetFailureReason(), req.GetResult()
	return &bbsv1.CompleteTaskResponse{}, nil
}

// RejectTask: back to PENDING.
func (b *BBS) RejectTask(_ context.Context, req *bbsv1.RejectTaskRequest) (*bbsv1.RejectTaskResponse, error) {
	err := b.begin("RejectTask", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := b.tasks[req.GetTaskGuid()]
	if t == nil {
		return nil, notFound("task %s not found", req.GetTaskGuid())
	}
	if st := t.GetState(); st != bbsv1.TaskState_TASK_STATE_PENDING && st != bbsv1.TaskState_TASK_STATE_RUNNING {
		return nil, invalid("task %s cannot be rejected: it is %s", t.GetTaskGuid(), st)
	}
	t.State, t.CellId = bbsv1.TaskState_TASK_STATE_PENDING, ""
	t.RejectionCount++
	t.RejectionReason = req.GetRejectionReason()
	return &bbsv1.RejectTaskResponse{}, nil
}

// CancelTask completes a PENDING or RUNNING task as failed, as Cloud
// Controller's cancel does (the fake does not call the rep).
func (b *BBS) CancelTask(_ context.Context, req *bbsv1.CancelTaskRequest) (*bbsv1.CancelTaskResponse, error) {
	err := b.begin("CancelTask", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := b.tasks[req.GetTaskGuid()]
	if t == nil {
		return nil, notFound("task %s not found", req.GetTaskGuid())
	}
	t.State, t.CellId, t.Failed, t.FailureReason = bbsv1.TaskState_TASK_STATE_COMPLETED, "", true, "task was cancelled"
	return &bbsv1.CancelTaskResponse{}, nil
}

// ListTasks lists tasks, filtered by domain and cell_id.
func (b *BBS) ListTasks(_ context.Context, req *bbsv1.ListTasksRequest) (*bbsv1.ListTasksResponse, error) {
	err := b.begin("ListTasks", req)
	defer b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp := &bbsv1.ListTasksResponse{}
	for _, t := range b.tasks {
		if (req.GetDomain() == "" || t.GetDomain() == req.GetDomain()) && (req.GetCellId() == "" || t.GetCellId() == req.GetCellId()) {
			resp.Tasks = append(resp.Tasks, proto.CloneOf(t))
		}
	}
	slices.SortFunc(resp.Tasks, func(a, b *bbsv1.Task) int {
		switch {
		case a.GetTaskGuid() < b.GetTaskGuid():
			return -1
		case a.GetTaskGuid() > b.GetTaskGuid():
			return 1
		}
		return 0
	})
	return resp, nil
}

// Client calls the fake in process, with the signatures of the generated
// gRPC client, for code written against a subset of
// bbsv1.BBSServiceClient.
type Client struct{ B *BBS }

func (c Client) GetDesiredLRP(ctx context.Context, r *bbsv1.GetDesiredLRPRequest, _ ...grpc.CallOption) (*bbsv1.GetDesiredLRPResponse, error) {
	return c.B.GetDesiredLRP(ctx, r)
}

func (c Client) ListActualLRPs(ctx context.Context, r *bbsv1.ListActualLRPsRequest, _ ...grpc.CallOption) (*bbsv1.ListActualLRPsResponse, error) {
	return c.B.ListActualLRPs(ctx, r)
}

func (c Client) ClaimActualLRP(ctx context.Context, r *bbsv1.ClaimActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.ClaimActualLRPResponse, error) {
	return c.B.ClaimActualLRP(ctx, r)
}

func (c Client) StartActualLRP(ctx context.Context, r *bbsv1.StartActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.StartActualLRPResponse, error) {
	return c.B.StartActualLRP(ctx, r)
}

func (c Client) CrashActualLRP(ctx context.Context, r *bbsv1.CrashActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.CrashActualLRPResponse, error) {
	return c.B.CrashActualLRP(ctx, r)
}

func (c Client) RemoveActualLRP(ctx context.Context, r *bbsv1.RemoveActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.RemoveActualLRPResponse, error) {
	return c.B.RemoveActualLRP(ctx, r)
}

func (c Client) EvacuateClaimedActualLRP(ctx context.Context, r *bbsv1.EvacuateClaimedActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.EvacuateClaimedActualLRPResponse, error) {
	return c.B.EvacuateClaimedActualLRP(ctx, r)
}

func (c Client) EvacuateRunningActualLRP(ctx context.Context, r *bbsv1.EvacuateRunningActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.EvacuateRunningActualLRPResponse, error) {
	return c.B.EvacuateRunningActualLRP(ctx, r)
}

func (c Client) EvacuateStoppedActualLRP(ctx context.Context, r *bbsv1.EvacuateStoppedActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.EvacuateStoppedActualLRPResponse, error) {
	return c.B.EvacuateStoppedActualLRP(ctx, r)
}

func (c Client) EvacuateCrashedActualLRP(ctx context.Context, r *bbsv1.EvacuateCrashedActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.EvacuateCrashedActualLRPResponse, error) {
	return c.B.EvacuateCrashedActualLRP(ctx, r)
}

func (c Client) RemoveEvacuatingActualLRP(ctx context.Context, r *bbsv1.RemoveEvacuatingActualLRPRequest, _ ...grpc.CallOption) (*bbsv1.RemoveEvacuatingActualLRPResponse, error) {
	return c.B.RemoveEvacuatingActualLRP(ctx, r)
}

func (c Client) StartTask(ctx context.Context, r *bbsv1.StartTaskRequest, _ ...grpc.CallOption) (*bbsv1.StartTaskResponse, error) {
	return c.B.StartTask(ctx, r)
}

func (c Client) CompleteTask(ctx context.Context, r *bbsv1.CompleteTaskRequest, _ ...grpc.CallOption) (*bbsv1.CompleteTaskResponse, error) {
	return c.B.CompleteTask(ctx, r)
}

func (c Client) RejectTask(ctx context.Context, r *bbsv1.RejectTaskRequest, _ ...grpc.CallOption) (*bbsv1.RejectTaskResponse, error) {
	return c.B.RejectTask(ctx, r)
}

func (c Client) ListTasks(ctx context.Context, r *bbsv1.ListTasksRequest, _ ...grpc.CallOption) (*bbsv1.ListTasksResponse, error) {
	return c.B.ListTasks(ctx, r)
}
