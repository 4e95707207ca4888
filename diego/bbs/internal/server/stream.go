package server

import (
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/events"
)

// SubscribeToEvents streams events: the replayed backlog (or a resync) first,
// then live events, with heartbeats while nothing happens.
func (s *Server) SubscribeToEvents(req *bbsv1.SubscribeToEventsRequest, stream grpc.ServerStreamingServer[bbsv1.SubscribeToEventsResponse]) error {
	sub, err := s.deps.Events.Subscribe(req.GetEpoch(), req.GetAfterSequence())
	if err != nil {
		return status.Error(codes.Unavailable, "the BBS is shutting down")
	}
	defer sub.Close()
	// last is the sequence this stream has delivered up to; heartbeats carry
	// it so a client can resume from a heartbeat as from an event.
	last := sub.Start()
	for _, ev := range sub.Backlog() {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	heartbeat := time.NewTicker(s.opts.HeartbeatInterval)
	defer heartbeat.Stop()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), events.ErrTooSlow) {
					return status.Error(codes.ResourceExhausted, sub.Err().Error())
				}
				return status.Error(codes.Unavailable, "the BBS stopped serving events; reconnect")
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
			last = ev.GetSequence()
			heartbeat.Reset(s.opts.HeartbeatInterval)
		case <-heartbeat.C:
			hb := &bbsv1.SubscribeToEventsResponse{
				Epoch:    s.deps.Events.Epoch(),
				Sequence: last,
				Event:    &bbsv1.SubscribeToEventsResponse_Heartbeat{Heartbeat: &bbsv1.Heartbeat{}},
			}
			if err := stream.Send(hb); err != nil {
				return err
			}
		}
	}
}
