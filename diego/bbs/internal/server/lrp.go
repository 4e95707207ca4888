package server

import (
	"context"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/lrps"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
)

// DesireLRP creates a desired LRP.
func (s *Server) DesireLRP(ctx context.Context, req *bbsv1.DesireLRPRequest) (*bbsv1.DesireLRPResponse, error) {
	err := s.serialize(req.GetDesiredLrp().GetProcessGuid(), func() (models.Result, error) {
		return s.deps.LRPs.DesireLRP(ctx, req.GetDesiredLrp())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.DesireLRPResponse{}, nil
}

// UpdateDesiredLRP changes a desired LRP.
func (s *Server) UpdateDesiredLRP(ctx context.Context, req *bbsv1.UpdateDesiredLRPRequest) (*bbsv1.UpdateDesiredLRPResponse, error) {
	var updated *bbsv1.DesiredLRP
	err := s.serialize(req.GetProcessGuid(), func() (models.Result, error) {
		d, r, err := s.deps.LRPs.UpdateDesiredLRP(ctx, req.GetProcessGuid(), req.GetUpdate(), req.GetExpectedModificationTag())
		updated = d
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.UpdateDesiredLRPResponse{DesiredLrp: updated}, nil
}

// RemoveDesiredLRP removes a desired LRP.
func (s *Server) RemoveDesiredLRP(ctx context.Context, req *bbsv1.RemoveDesiredLRPRequest) (*bbsv1.RemoveDesiredLRPResponse, error) {
	err := s.serialize(req.GetProcessGuid(), func() (models.Result, error) {
		return s.deps.LRPs.RemoveDesiredLRP(ctx, req.GetProcessGuid())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.RemoveDesiredLRPResponse{}, nil
}

// GetDesiredLRP returns one desired LRP.
func (s *Server) GetDesiredLRP(ctx context.Context, req *bbsv1.GetDesiredLRPRequest) (*bbsv1.GetDesiredLRPResponse, error) {
	d, err := s.deps.LRPs.DesiredLRP(ctx, req.GetProcessGuid())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.GetDesiredLRPResponse{DesiredLrp: d}, nil
}

// ListDesiredLRPs lists desired LRPs.
func (s *Server) ListDesiredLRPs(ctx context.Context, req *bbsv1.ListDesiredLRPsRequest) (*bbsv1.ListDesiredLRPsResponse, error) {
	ds, err := s.deps.LRPs.DesiredLRPs(ctx, req.GetFilter())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.ListDesiredLRPsResponse{DesiredLrps: ds}, nil
}

// ListDesiredLRPSchedulingInfos lists desired LRPs without their actions.
func (s *Server) ListDesiredLRPSchedulingInfos(ctx context.Context, req *bbsv1.ListDesiredLRPSchedulingInfosRequest) (*bbsv1.ListDesiredLRPSchedulingInfosResponse, error) {
	infos, err := s.deps.LRPs.SchedulingInfos(ctx, req.GetFilter())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.ListDesiredLRPSchedulingInfosResponse{SchedulingInfos: infos}, nil
}

// ListActualLRPs lists instances.
func (s *Server) ListActualLRPs(ctx context.Context, req *bbsv1.ListActualLRPsRequest) (*bbsv1.ListActualLRPsResponse, error) {
	as, err := s.deps.LRPs.ActualLRPs(ctx, req.GetFilter())
	if err != nil {
		return nil, toStatus(err)
	}
	return &bbsv1.ListActualLRPsResponse{ActualLrps: as}, nil
}

func requireKey(key *bbsv1.ActualLRPKey) error {
	if key.GetProcessGuid() == "" {
		return invalid("key.process_guid is required")
	}
	if key.GetIndex() < 0 {
		return invalid("key.index %d is negative", key.GetIndex())
	}
	return nil
}

func requireInstanceKey(ik *bbsv1.ActualLRPInstanceKey) error {
	if ik.GetInstanceGuid() == "" || ik.GetCellId() == "" {
		return invalid("instance_key needs instance_guid and cell_id")
	}
	return nil
}

// ClaimActualLRP: a cell accepted an instance.
func (s *Server) ClaimActualLRP(ctx context.Context, req *bbsv1.ClaimActualLRPRequest) (*bbsv1.ClaimActualLRPResponse, error) {
	if err := requireKey(&bbsv1.ActualLRPKey{ProcessGuid: req.GetProcessGuid(), Index: req.GetIndex()}); err != nil {
		return nil, err
	}
	if err := requireInstanceKey(req.GetInstanceKey()); err != nil {
		return nil, err
	}
	err := s.serializeSlot(req.GetProcessGuid(), req.GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.ClaimActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetInstanceKey())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.ClaimActualLRPResponse{}, nil
}

// StartActualLRP: an instance is healthy.
func (s *Server) StartActualLRP(ctx context.Context, req *bbsv1.StartActualLRPRequest) (*bbsv1.StartActualLRPResponse, error) {
	if err := requireKey(req.GetKey()); err != nil {
		return nil, err
	}
	if err := requireInstanceKey(req.GetInstanceKey()); err != nil {
		return nil, err
	}
	err := s.serializeSlot(req.GetKey().GetProcessGuid(), req.GetKey().GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.StartActualLRP(ctx, lrps.StartRequest{
			Key: req.GetKey(), InstanceKey: req.GetInstanceKey(), NetInfo: req.GetNetInfo(),
			Routable: req.GetRoutable(), Zone: req.GetAvailabilityZone(),
		})
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.StartActualLRPResponse{}, nil
}

// CrashActualLRP: an instance exited or failed its health check.
func (s *Server) CrashActualLRP(ctx context.Context, req *bbsv1.CrashActualLRPRequest) (*bbsv1.CrashActualLRPResponse, error) {
	if err := requireKey(req.GetKey()); err != nil {
		return nil, err
	}
	if err := requireInstanceKey(req.GetInstanceKey()); err != nil {
		return nil, err
	}
	err := s.serializeSlot(req.GetKey().GetProcessGuid(), req.GetKey().GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.CrashActualLRP(ctx, req.GetKey(), req.GetInstanceKey(), req.GetErrorMessage())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.CrashActualLRPResponse{}, nil
}

// FailActualLRP: an instance could not be placed.
func (s *Server) FailActualLRP(ctx context.Context, req *bbsv1.FailActualLRPRequest) (*bbsv1.FailActualLRPResponse, error) {
	if err := requireKey(req.GetKey()); err != nil {
		return nil, err
	}
	err := s.serializeSlot(req.GetKey().GetProcessGuid(), req.GetKey().GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.FailActualLRP(ctx, req.GetKey(), req.GetErrorMessage())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.FailActualLRPResponse{}, nil
}

// RemoveActualLRP deletes an instance record.
func (s *Server) RemoveActualLRP(ctx context.Context, req *bbsv1.RemoveActualLRPRequest) (*bbsv1.RemoveActualLRPResponse, error) {
	if err := requireKey(&bbsv1.ActualLRPKey{ProcessGuid: req.GetProcessGuid(), Index: req.GetIndex()}); err != nil {
		return nil, err
	}
	ik := req.GetInstanceKey()
	if models.EmptyInstanceKey(ik) {
		ik = nil
	}
	err := s.serializeSlot(req.GetProcessGuid(), req.GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.RemoveActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), ik)
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.RemoveActualLRPResponse{}, nil
}

// RetireActualLRP stops an instance.
func (s *Server) RetireActualLRP(ctx context.Context, req *bbsv1.RetireActualLRPRequest) (*bbsv1.RetireActualLRPResponse, error) {
	if err := requireKey(req.GetKey()); err != nil {
		return nil, err
	}
	err := s.serializeSlot(req.GetKey().GetProcessGuid(), req.GetKey().GetIndex(), func() (models.Result, error) {
		return s.deps.LRPs.RetireActualLRP(ctx, req.GetKey())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.RetireActualLRPResponse{}, nil
}

// evacuate runs one evacuation call under the LRP's stripe.
func (s *Server) evacuate(key *bbsv1.ActualLRPKey, ik *bbsv1.ActualLRPInstanceKey, f func() (bool, models.Result, error)) (bool, error) {
	if err := requireKey(key); err != nil {
		return false, err
	}
	if err := requireInstanceKey(ik); err != nil {
		return false, err
	}
	var keep bool
	err := s.serializeSlot(key.GetProcessGuid(), key.GetIndex(), func() (models.Result, error) {
		k, r, err := f()
		keep = k
		return r, err
	})
	return keep, err
}

// EvacuateClaimedActualLRP: a draining cell had not started the instance.
func (s *Server) EvacuateClaimedActualLRP(ctx context.Context, req *bbsv1.EvacuateClaimedActualLRPRequest) (*bbsv1.EvacuateClaimedActualLRPResponse, error) {
	keep, err := s.evacuate(req.GetKey(), req.GetInstanceKey(), func() (bool, models.Result, error) {
		return s.deps.LRPs.EvacuateClaimedActualLRP(ctx, req.GetKey(), req.GetInstanceKey())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.EvacuateClaimedActualLRPResponse{KeepContainer: keep}, nil
}

// EvacuateRunningActualLRP: a draining cell runs the instance.
func (s *Server) EvacuateRunningActualLRP(ctx context.Context, req *bbsv1.EvacuateRunningActualLRPRequest) (*bbsv1.EvacuateRunningActualLRPResponse, error) {
	keep, err := s.evacuate(req.GetKey(), req.GetInstanceKey(), func() (bool, models.Result, error) {
		return s.deps.LRPs.EvacuateRunningActualLRP(ctx, req.GetKey(), req.GetInstanceKey(), req.GetNetInfo())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.EvacuateRunningActualLRPResponse{KeepContainer: keep}, nil
}

// EvacuateStoppedActualLRP: a draining cell's instance stopped.
func (s *Server) EvacuateStoppedActualLRP(ctx context.Context, req *bbsv1.EvacuateStoppedActualLRPRequest) (*bbsv1.EvacuateStoppedActualLRPResponse, error) {
	keep, err := s.evacuate(req.GetKey(), req.GetInstanceKey(), func() (bool, models.Result, error) {
		return s.deps.LRPs.EvacuateStoppedActualLRP(ctx, req.GetKey(), req.GetInstanceKey())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.EvacuateStoppedActualLRPResponse{KeepContainer: keep}, nil
}

// EvacuateCrashedActualLRP: a draining cell's instance crashed.
func (s *Server) EvacuateCrashedActualLRP(ctx context.Context, req *bbsv1.EvacuateCrashedActualLRPRequest) (*bbsv1.EvacuateCrashedActualLRPResponse, error) {
	keep, err := s.evacuate(req.GetKey(), req.GetInstanceKey(), func() (bool, models.Result, error) {
		return s.deps.LRPs.EvacuateCrashedActualLRP(ctx, req.GetKey(), req.GetInstanceKey(), req.GetErrorMessage())
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.EvacuateCrashedActualLRPResponse{KeepContainer: keep}, nil
}

// RemoveEvacuatingActualLRP deletes an evacuating record.
func (s *Server) RemoveEvacuatingActualLRP(ctx context.Context, req *bbsv1.RemoveEvacuatingActualLRPRequest) (*bbsv1.RemoveEvacuatingActualLRPResponse, error) {
	_, err := s.evacuate(req.GetKey(), req.GetInstanceKey(), func() (bool, models.Result, error) {
		r, err := s.deps.LRPs.RemoveEvacuatingActualLRP(ctx, req.GetKey(), req.GetInstanceKey())
		return false, r, err
	})
	if err != nil {
		return nil, err
	}
	return &bbsv1.RemoveEvacuatingActualLRPResponse{}, nil
}
