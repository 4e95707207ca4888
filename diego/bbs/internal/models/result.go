package models

import (
	auctioneerv1 "github.com/anvilpaas/anvil/api/auctioneer/v1"
	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// StopInstance asks the cell running an instance to stop it.
type StopInstance struct {
	Key         *bbsv1.ActualLRPKey
	InstanceKey *bbsv1.ActualLRPInstanceKey
}

// CancelTask asks a cell to stop a task.
type CancelTask struct {
	TaskGUID string
	CellID   string
}

// Result is what a committed state change must set off. Store operations
// return it; the server acts on it after the commit, so nothing is announced
// for a change that was rolled back.
type Result struct {
	// Events to publish, in order. Their epoch and sequence are set by the
	// event hub.
	Events []*bbsv1.SubscribeToEventsResponse
	// LRPAuctions are instances to place.
	LRPAuctions []*auctioneerv1.LRPStartRequest
	// TaskAuctions are tasks to place.
	TaskAuctions []*bbsv1.Task
	// Stops are instances to stop on their cells.
	Stops []StopInstance
	// TaskCancels are tasks to stop on their cells.
	TaskCancels []CancelTask
	// Callbacks are completed tasks whose completion callback is due.
	Callbacks []*bbsv1.Task
}

// Merge appends o's work to r.
func (r *Result) Merge(o Result) {
	r.Events = append(r.Events, o.Events...)
	r.LRPAuctions = append(r.LRPAuctions, o.LRPAuctions...)
	r.TaskAuctions = append(r.TaskAuctions, o.TaskAuctions...)
	r.Stops = append(r.Stops, o.Stops...)
	r.TaskCancels = append(r.TaskCancels, o.TaskCancels...)
	r.Callbacks = append(r.Callbacks, o.Callbacks...)
}

// Empty reports whether r sets nothing off.
func (r *Result) Empty() bool {
	return len(r.Events) == 0 && len(r.LRPAuctions) == 0 && len(r.TaskAuctions) == 0 &&
		len(r.Stops) == 0 && len(r.TaskCancels) == 0 && len(r.Callbacks) == 0
}

// SchedulingInfo is the part of d that schedulers and routers need.
func SchedulingInfo(d *bbsv1.DesiredLRP) *bbsv1.DesiredLRPSchedulingInfo {
	return &bbsv1.DesiredLRPSchedulingInfo{
		ProcessGuid:     d.GetProcessGuid(),
		Domain:          d.GetDomain(),
		Instances:       d.GetInstances(),
		RootFs:          d.GetRootFs(),
		MemoryMb:        d.GetMemoryMb(),
		DiskMb:          d.GetDiskMb(),
		PlacementTags:   d.GetPlacementTags(),
		Routes:          d.GetRoutes(),
		Annotation:      d.GetAnnotation(),
		ModificationTag: d.GetModificationTag(),
		LogGuid:         d.GetLogGuid(),
		MaxPids:         d.GetMaxPids(),
	}
}

// StartRequest asks for indices of the LRP s describes to be placed.
func StartRequest(s *bbsv1.DesiredLRPSchedulingInfo, indices ...int32) *auctioneerv1.LRPStartRequest {
	return &auctioneerv1.LRPStartRequest{
		ProcessGuid:   s.GetProcessGuid(),
		Domain:        s.GetDomain(),
		Indices:       indices,
		MemoryMb:      s.GetMemoryMb(),
		DiskMb:        s.GetDiskMb(),
		MaxPids:       s.GetMaxPids(),
		RootFs:        s.GetRootFs(),
		PlacementTags: s.GetPlacementTags(),
	}
}

// DesiredCreated is the event for a new desired LRP.
func DesiredCreated(d *bbsv1.DesiredLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpCreated{DesiredLrpCreated: &bbsv1.DesiredLRPCreated{DesiredLrp: SchedulingInfo(d)}}}
}

// DesiredChanged is the event for an updated desired LRP.
func DesiredChanged(before, after *bbsv1.DesiredLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpChanged{DesiredLrpChanged: &bbsv1.DesiredLRPChanged{Before: SchedulingInfo(before), After: SchedulingInfo(after)}}}
}

// DesiredRemoved is the event for a removed desired LRP.
func DesiredRemoved(d *bbsv1.DesiredLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_DesiredLrpRemoved{DesiredLrpRemoved: &bbsv1.DesiredLRPRemoved{DesiredLrp: SchedulingInfo(d)}}}
}

// ActualCreated is the event for a new instance record.
func ActualCreated(a *bbsv1.ActualLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpCreated{ActualLrpCreated: &bbsv1.ActualLRPCreated{ActualLrp: a}}}
}

// ActualChanged is the event for a changed instance record.
func ActualChanged(before, after *bbsv1.ActualLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpChanged{ActualLrpChanged: &bbsv1.ActualLRPChanged{Before: before, After: after}}}
}

// ActualRemoved is the event for a removed instance record.
func ActualRemoved(a *bbsv1.ActualLRP) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_ActualLrpRemoved{ActualLrpRemoved: &bbsv1.ActualLRPRemoved{ActualLrp: a}}}
}

// TaskCreated is the event for a new task.
func TaskCreated(t *bbsv1.Task) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_TaskCreated{TaskCreated: &bbsv1.TaskCreated{Task: t}}}
}

// TaskChanged is the event for a changed task.
func TaskChanged(before, after *bbsv1.Task) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_TaskChanged{TaskChanged: &bbsv1.TaskChanged{Before: before, After: after}}}
}

// TaskRemoved is the event for a removed task.
func TaskRemoved(t *bbsv1.Task) *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_TaskRemoved{TaskRemoved: &bbsv1.TaskRemoved{Task: t}}}
}
