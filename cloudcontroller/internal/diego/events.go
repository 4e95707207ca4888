package diego

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/cloudcontroller/internal/store"
)

// The BBS event stream: instance crashes become audit events
// (audit.app.process.crash and the legacy app.crash, as CF's TPS watcher
// makes them), desired LRP changes keep the index fresh, and a resync
// makes the next lookup list the BBS again.

// crashEventSpace names crash event guids: uuid v5 of the instance guid,
// crash count and event type, so that every Cloud Controller watching the
// stream records a crash once.
var crashEventSpace = uuid.MustParse("5a0a3c0e-5d2a-4c39-9a8e-2b7e1f6c0d11")

const (
	maxBackoff = 30 * time.Second
	minBackoff = 500 * time.Millisecond
)

// watchEvents follows the event stream until ctx ends, resubscribing with
// backoff; a resumed stream carries on from the last event seen, so
// crashes during a short break are still recorded.
func (s *Syncer) watchEvents(ctx context.Context) {
	var epoch string
	var seq uint64
	backoff := minBackoff
	for ctx.Err() == nil {
		got, err := s.follow(ctx, &epoch, &seq)
		if ctx.Err() != nil {
			return
		}
		if got {
			backoff = minBackoff
		}
		s.logger.Debug("bbs event stream ended; resubscribing", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// follow reads one subscription; got reports whether any event arrived.
func (s *Syncer) follow(ctx context.Context, epoch *string, seq *uint64) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.deps.BBS.SubscribeToEvents(ctx, &bbsv1.SubscribeToEventsRequest{Epoch: *epoch, AfterSequence: *seq})
	if err != nil {
		return false, err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return got, err
		}
		got = true
		*epoch, *seq = ev.GetEpoch(), ev.GetSequence()
		s.handleEvent(ctx, ev)
	}
}

func (s *Syncer) handleEvent(ctx context.Context, ev *bbsv1.SubscribeToEventsResponse) {
	switch e := ev.GetEvent().(type) {
	case *bbsv1.SubscribeToEventsResponse_Resync:
		s.mu.Lock()
		s.loadedAt = time.Time{}
		s.mu.Unlock()
	case *bbsv1.SubscribeToEventsResponse_DesiredLrpCreated:
		if d := e.DesiredLrpCreated.GetDesiredLrp(); d.GetDomain() == Domain {
			s.indexAdd(d.GetProcessGuid())
		}
	case *bbsv1.SubscribeToEventsResponse_DesiredLrpRemoved:
		if d := e.DesiredLrpRemoved.GetDesiredLrp(); d.GetDomain() == Domain {
			s.indexRemove(d.GetProcessGuid())
		}
	case *bbsv1.SubscribeToEventsResponse_ActualLrpChanged:
		before, after := e.ActualLrpChanged.GetBefore(), e.ActualLrpChanged.GetAfter()
		if after.GetKey().GetDomain() == Domain && after.GetCrashCount() > before.GetCrashCount() {
			if err := s.recordCrash(ctx, after); err != nil {
				s.logger.Warn("record crash event", "lrp", after.GetKey().GetProcessGuid(), "index", after.GetKey().GetIndex(), "err", err)
			}
		}
	}
}

// recordCrash writes the crash's audit events.
func (s *Syncer) recordCrash(ctx context.Context, a *bbsv1.ActualLRP) error {
	lrp := a.GetKey().GetProcessGuid()
	procGUID := processOf(lrp)
	if procGUID == "" {
		return nil
	}
	st := s.deps.Store
	p, err := st.GetProcess(ctx, procGUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	app, err := st.GetApp(ctx, p.AppGUID)
	if err != nil {
		return err
	}
	sp, err := st.GetSpace(ctx, app.SpaceGUID)
	if err != nil {
		return err
	}
	payload := map[string]any{
		"instance":         a.GetInstanceKey().GetInstanceGuid(),
		"index":            a.GetKey().GetIndex(),
		"cell_id":          a.GetInstanceKey().GetCellId(),
		"reason":           "CRASHED",
		"exit_description": a.GetCrashReason(),
		"crash_count":      a.GetCrashCount(),
		"crash_timestamp":  a.GetSince(),
		"version":          lrp[37:],
	}
	target := store.EventRef{GUID: app.GUID, Type: "app", Name: app.Name}
	key := a.GetInstanceKey().GetInstanceGuid() + "/" + lrp + "/" + strconv.Itoa(int(a.GetKey().GetIndex())) + "/" + strconv.Itoa(int(a.GetCrashCount()))
	events := []store.Event{
		{Type: "audit.app.process.crash", Actor: store.EventRef{GUID: p.GUID, Type: "process", Name: p.Type}},
		{Type: "app.crash", Actor: target},
	}
	fresh := false
	for i, e := range events {
		e.GUID = uuid.NewSHA1(crashEventSpace, []byte(e.Type+"/"+key)).String()
		e.Target, e.SpaceGUID, e.OrgGUID, e.Data = target, sp.GUID, sp.OrgGUID, payload
		_, err := st.RecordEvent(ctx, e)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%s: %w", e.Type, err)
		}
		fresh = fresh || (i == 0 && err == nil)
	}
	if fresh && s.deps.AppLogs != nil {
		// CF's texts (ProcessEventRepository.record_crash, AppEventRepository.create_app_crash_event).
		s.deps.AppLogs.AppLog(ctx, app.GUID, `Process has crashed with type: "`+p.Type+`"`)
		s.deps.AppLogs.AppLog(ctx, app.GUID, "App instance exited with guid "+app.GUID+" payload: "+crashPayloadText(payload))
	}
	s.metrics.crashes.Inc()
	s.logger.Info("instance crashed", "app", app.GUID, "process", p.GUID, "index", a.GetKey().GetIndex(),
		"crash_count", a.GetCrashCount(), "reason", a.GetCrashReason())
	return nil
}

// crashPayloadText is the crash payload as CF logs it (Ruby's
// Hash#inspect, in CF's key order).
func crashPayloadText(p map[string]any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range []string{"instance", "index", "cell_id", "reason", "exit_description", "crash_count", "crash_timestamp", "version"} {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k) + "=>")
		switch v := p[k].(type) {
		case string:
			b.WriteString(strconv.Quote(v))
		case nil:
			b.WriteString("nil")
		default:
			fmt.Fprint(&b, v)
		}
	}
	b.WriteByte('}')
	return b.String()
}
