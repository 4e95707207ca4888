package events

import (
	"errors"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

func heartbeat() *bbsv1.SubscribeToEventsResponse {
	return &bbsv1.SubscribeToEventsResponse{Event: &bbsv1.SubscribeToEventsResponse_Heartbeat{Heartbeat: &bbsv1.Heartbeat{}}}
}

func publish(h *Hub, n int) {
	for range n {
		h.Publish(heartbeat())
	}
}

func sequences(evs []*bbsv1.SubscribeToEventsResponse) []uint64 {
	var out []uint64
	for _, ev := range evs {
		out = append(out, ev.GetSequence())
	}
	return out
}

func drain(s *Subscription, n int) []*bbsv1.SubscribeToEventsResponse {
	var out []*bbsv1.SubscribeToEventsResponse
	for range n {
		ev, ok := <-s.C()
		if !ok {
			break
		}
		out = append(out, ev)
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSubscribeResume(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		epoch       func(h *Hub) string
		after       uint64
		wantBacklog []uint64
		wantResync  bool
	}{
		{"live only", func(*Hub) string { return "" }, 0, nil, false},
		{"resume from start", (*Hub).Epoch, 0, []uint64{1, 2, 3, 4, 5}, false},
		{"resume midway", (*Hub).Epoch, 3, []uint64{4, 5}, false},
		{"up to date", (*Hub).Epoch, 5, nil, false},
		{"other epoch", func(*Hub) string { return "old" }, 3, []uint64{5}, true},
		{"from the future", (*Hub).Epoch, 9, []uint64{5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := New(Options{RingSize: 8})
			publish(h, 5)
			s, err := h.Subscribe(tt.epoch(h), tt.after)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := sequences(s.Backlog()); !equal(got, tt.wantBacklog) {
				t.Errorf("backlog = %v, want %v", got, tt.wantBacklog)
			}
			if resync := len(s.Backlog()) == 1 && s.Backlog()[0].GetResync() != nil; resync != tt.wantResync {
				t.Errorf("resync = %v, want %v", resync, tt.wantResync)
			}
			publish(h, 2)
			if got := sequences(drain(s, 2)); !equal(got, []uint64{6, 7}) {
				t.Errorf("live = %v, want [6 7]", got)
			}
		})
	}
}

func TestRingOverrun(t *testing.T) {
	t.Parallel()
	h := New(Options{RingSize: 4})
	publish(h, 10)
	s, err := h.Subscribe(h.Epoch(), 5) // 6..10 is five events, the ring holds four
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b := s.Backlog(); len(b) != 1 || b[0].GetResync() == nil {
		t.Fatalf("backlog = %v, want one resync", b)
	}
	s2, err := h.Subscribe(h.Epoch(), 6)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := sequences(s2.Backlog()); !equal(got, []uint64{7, 8, 9, 10}) {
		t.Errorf("backlog = %v", got)
	}
}

func TestSlowSubscriberCutOff(t *testing.T) {
	t.Parallel()
	h := New(Options{SubscriberBuffer: 2})
	slow, _ := h.Subscribe("", 0)
	fast, _ := h.Subscribe("", 0)
	h.Publish(heartbeat())
	drain(fast, 1)
	h.Publish(heartbeat())
	drain(fast, 1)
	h.Publish(heartbeat()) // slow has 2 buffered: this one cuts it off
	if got := len(drain(slow, 10)); got != 2 {
		t.Errorf("slow got %d events before its channel closed, want 2", got)
	}
	if !errors.Is(slow.Err(), ErrTooSlow) {
		t.Errorf("slow.Err() = %v, want ErrTooSlow", slow.Err())
	}
	if got := sequences(drain(fast, 1)); !equal(got, []uint64{3}) {
		t.Errorf("fast got %v", got)
	}
	// It can resume where it was.
	again, err := h.Subscribe(h.Epoch(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := sequences(again.Backlog()); !equal(got, []uint64{3}) {
		t.Errorf("resumed backlog = %v", got)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	h := New(Options{})
	s, _ := h.Subscribe("", 0)
	mine, _ := h.Subscribe("", 0)
	mine.Close()
	if _, ok := <-mine.C(); ok || mine.Err() != nil {
		t.Errorf("closed subscription: ok=%v err=%v", ok, mine.Err())
	}
	h.Close()
	if _, ok := <-s.C(); ok {
		t.Error("channel still open after hub Close")
	}
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err = %v", s.Err())
	}
	if _, err := h.Subscribe("", 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	h.Publish(heartbeat()) // no panic
}

func BenchmarkPublish(b *testing.B) {
	h := New(Options{})
	subs := make([]*Subscription, 4)
	for i := range subs {
		subs[i], _ = h.Subscribe("", 0)
		go func(s *Subscription) {
			for range s.C() {
			}
		}(subs[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(heartbeat())
	}
	h.Close()
}

func TestRestart(t *testing.T) {
	t.Parallel()
	h := New(Options{})
	publish(h, 3)
	old := h.Epoch()
	s, _ := h.Subscribe("", 0)
	h.Restart()
	if _, ok := <-s.C(); ok || !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("subscription survived Restart: err=%v", s.Err())
	}
	if h.Epoch() == old || h.Sequence() != 0 {
		t.Errorf("epoch %q seq %d after Restart", h.Epoch(), h.Sequence())
	}
	again, err := h.Subscribe(old, 3)
	if err != nil {
		t.Fatal(err)
	}
	if b := again.Backlog(); len(b) != 1 || b[0].GetResync() == nil {
		t.Errorf("resume from the old epoch: backlog %v, want a resync", b)
	}
	publish(h, 1)
	if got := sequences(drain(again, 1)); !equal(got, []uint64{1}) {
		t.Errorf("after Restart got %v", got)
	}
}
