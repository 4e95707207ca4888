package callbacks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/bbs/internal/callbacks"
	"github.com/anvilpaas/anvil/diego/bbs/internal/models"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// receiver is a callback endpoint that answers with scripted statuses.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	codes  []int // answered in order; the last one repeats
	bodies []map[string]any
	types  []string
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	t.Helper()
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			m = map[string]any{"undecodable": string(body)}
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.types = append(r.types, req.Method+" "+req.Header.Get("Content-Type"))
		code := r.codes[min(len(r.bodies), len(r.codes))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setCodes(codes ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes = append(make([]int, len(r.bodies)), codes...)
}

func (r *receiver) posts() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies), slices.Clone(r.types)
}

// fakeStore records what the pool asks of the task store.
type fakeStore struct {
	mu                    sync.Mutex
	resolveErr, deleteErr error
	resolved, deleted     []string
}

func (f *fakeStore) ResolvingTask(_ context.Context, guid string) (models.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = append(f.resolved, guid)
	if f.resolveErr != nil {
		return models.Result{}, f.resolveErr
	}
	t := &bbsv1.Task{TaskGuid: guid}
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.TaskChanged(t, t)}}, nil
}

func (f *fakeStore) DeleteTask(_ context.Context, guid string) (models.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, guid)
	if f.deleteErr != nil {
		return models.Result{}, f.deleteErr
	}
	return models.Result{Events: []*bbsv1.SubscribeToEventsResponse{models.TaskRemoved(&bbsv1.Task{TaskGuid: guid})}}, nil
}

func (f *fakeStore) calls() (resolved, deleted []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resolved), slices.Clone(f.deleted)
}

// applied collects the Results the pool hands back.
type applied struct {
	mu sync.Mutex
	rs []models.Result
}

func (a *applied) apply(r models.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rs = append(a.rs, r)
}

func (a *applied) events() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.rs {
		n += len(r.Events)
	}
	return n
}

// testPool returns a pool with fast retries and its metrics registry.
func testPool(t *testing.T, cfg callbacks.Config, store callbacks.Store, apply func(models.Result)) (*callbacks.Pool, *prometheus.Registry) {
	t.Helper()
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 5 * time.Second
	}
	reg := prometheus.NewRegistry()
	p, err := callbacks.New(cfg, callbacks.Deps{Logger: testenv.Logger(t), Store: store, Apply: apply, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

// metric returns the value of a counter or gauge with the given label
// (name=value), or of the unlabelled one when label is "".
func metric(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || hasLabel(m, label) {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, label string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName()+"="+lp.GetValue() == label {
			return true
		}
	}
	return false
}

func task(guid, url string) *bbsv1.Task {
	return &bbsv1.Task{
		TaskGuid: guid, Domain: "cf-apps", State: bbsv1.TaskState_TASK_STATE_COMPLETED,
		Failed: true, FailureReason: "exit 1", Result: "droplet", CreatedAt: 1700000000000000000,
		Definition: &bbsv1.TaskDefinition{CompletionCallbackUrl: url, Annotation: "build-1"},
	}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		codes      []int
		resolveErr error
		wantPosts  int
		wantDelete bool
		outcome    string
	}{
		{name: "2xx deletes", codes: []int{200}, wantPosts: 1, wantDelete: true, outcome: "delivered"},
		{name: "204 deletes", codes: []int{204}, wantPosts: 1, wantDelete: true, outcome: "delivered"},
		{name: "4xx deletes as in Diego", codes: []int{404}, wantPosts: 1, wantDelete: true, outcome: "delivered"},
		{name: "500 is retried", codes: []int{500, 200}, wantPosts: 2, wantDelete: true, outcome: "delivered"},
		{name: "503 until retries run out leaves the task", codes: []int{503}, wantPosts: 3, outcome: "failed"},
		{name: "resolving elsewhere is skipped", codes: []int{200},
			resolveErr: bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION, "task is RESOLVING"), outcome: "skipped"},
		{name: "deleted meanwhile is skipped", codes: []int{200},
			resolveErr: bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "gone"), outcome: "skipped"},
		{name: "store failure is not delivered", codes: []int{200},
			resolveErr: errors.New("connection refused"), outcome: "store_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tt.codes...)
			store := &fakeStore{resolveErr: tt.resolveErr}
			var got applied
			p, reg := testPool(t, callbacks.Config{Workers: 2, Retries: 2}, store, got.apply)
			testenv.Start(t, p)

			p.Submit(task("t-1", rcv.URL+"/cb?start=true"))
			testenv.Eventually(t, 10*time.Second, func() error {
				if n := metric(t, reg, "bbs_task_callbacks_total", "outcome="+tt.outcome); n != 1 {
					return fmt.Errorf("%s outcomes = %v", tt.outcome, n)
				}
				return nil
			})

			bodies, types := rcv.posts()
			if len(bodies) != tt.wantPosts {
				t.Fatalf("receiver got %d POSTs, want %d", len(bodies), tt.wantPosts)
			}
			want := map[string]any{"task_guid": "t-1", "failed": true, "failure_reason": "exit 1",
				"result": "droplet", "annotation": "build-1", "created_at": float64(1700000000000000000)}
			for i, b := range bodies {
				if fmt.Sprint(b) != fmt.Sprint(want) {
					t.Errorf("body %d = %v, want %v", i, b, want)
				}
				if types[i] != "POST application/json" {
					t.Errorf("request %d is %q, want POST application/json", i, types[i])
				}
			}
			resolved, deleted := store.calls()
			if !slices.Equal(resolved, []string{"t-1"}) {
				t.Errorf("resolved %v, want [t-1]", resolved)
			}
			if (len(deleted) == 1) != tt.wantDelete {
				t.Errorf("deleted %v, want deleted: %v", deleted, tt.wantDelete)
			}
			wantEvents := 0
			if tt.resolveErr == nil {
				wantEvents = 1
			}
			if tt.wantDelete {
				wantEvents = 2
			}
			if n := got.events(); n != wantEvents {
				t.Errorf("applied %d events, want %d", n, wantEvents)
			}
		})
	}
}

func TestUnreachableReceiverLeavesTask(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()

	store := &fakeStore{}
	p, reg := testPool(t, callbacks.Config{Workers: 1, Retries: 2}, store, nil)
	testenv.Start(t, p)
	p.Submit(task("t-1", url))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := metric(t, reg, "bbs_task_callbacks_total", "outcome=failed"); n != 1 {
			return fmt.Errorf("failed outcomes = %v", n)
		}
		return nil
	})
	if n := metric(t, reg, "bbs_task_callback_requests_total", "code=error"); n != 3 {
		t.Errorf("attempts = %v, want 3", n)
	}
	if _, deleted := store.calls(); len(deleted) != 0 {
		t.Errorf("deleted %v; the task must stay for convergence to kick again", deleted)
	}
}

func TestSubmitQueue(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 200)
	store := &fakeStore{}
	p, reg := testPool(t, callbacks.Config{Workers: 1, QueueSize: 2}, store, nil)

	// Not running yet: the queue fills.
	p.Submit(task("a", rcv.URL))
	p.Submit(task("b", rcv.URL))
	p.Submit(task("a", rcv.URL)) // already queued: ignored, not dropped
	p.Submit(task("c", rcv.URL))
	p.Submit(task("d", rcv.URL))
	p.Submit(task("no-url", ""))
	if n := metric(t, reg, "bbs_task_callbacks_dropped_total", ""); n != 2 {
		t.Errorf("dropped = %v, want 2 (c and d)", n)
	}
	if n := metric(t, reg, "bbs_task_callback_queue_length", ""); n != 2 {
		t.Errorf("queue length = %v, want 2", n)
	}
	if n := metric(t, reg, "bbs_task_callbacks_total", "outcome=skipped"); n != 1 {
		t.Errorf("skipped = %v, want 1 (no URL)", n)
	}

	testenv.Start(t, p)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := metric(t, reg, "bbs_task_callbacks_total", "outcome=delivered"); n != 2 {
			return fmt.Errorf("delivered = %v", n)
		}
		return nil
	})
	resolved, deleted := store.calls()
	if !slices.Equal(resolved, []string{"a", "b"}) || !slices.Equal(deleted, []string{"a", "b"}) {
		t.Errorf("resolved %v, deleted %v; want a and b once each", resolved, deleted)
	}
	// Delivered tasks may be submitted again (convergence), and are.
	p.Submit(task("a", rcv.URL))
	testenv.Eventually(t, 10*time.Second, func() error {
		if resolved, _ := store.calls(); len(resolved) != 3 {
			return fmt.Errorf("resolved %v", resolved)
		}
		return nil
	})
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	p, _ := testPool(t, callbacks.Config{Workers: 1}, &fakeStore{}, nil)
	stop := testenv.Start(t, p)
	if err := p.Run(t.Context()); err == nil {
		t.Error("second Run returned nil, want an error")
	}
	if err := stop(); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

func TestNewNeedsStore(t *testing.T) {
	t.Parallel()
	if _, err := callbacks.New(callbacks.Config{}, callbacks.Deps{}); err == nil {
		t.Error("New without a Store returned no error")
	}
}
