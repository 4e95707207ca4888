package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

func lrp(guid string, index int32) Item {
	return Item{LRP: &repv1.LRPWork{ProcessGuid: guid, Index: index}}
}

func task(guid string) Item { return Item{Task: &bbsv1.Task{TaskGuid: guid}} }

func keys(items []Item) []string {
	out := make([]string, len(items))
	for i := range items {
		out[i] = items[i].Key()
	}
	return out
}

func next(t *testing.T, q *Queue) []Item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	items, err := q.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return items
}

func TestKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		item Item
		want string
	}{
		{lrp("p", 0), "lrp p 0"},
		{lrp("p", 12), "lrp p 12"},
		{task("t"), "task t"},
	} {
		if got := tt.item.Key(); got != tt.want {
			t.Errorf("Key = %q, want %q", got, tt.want)
		}
	}
}

func TestOrderAndDedupe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(q *Queue) error
		want []string
	}{
		{"in arrival order", func(q *Queue) error {
			return errors.Join(q.Add([]Item{lrp("p", 0), task("t")}), q.Add([]Item{lrp("p", 1)}))
		}, []string{"lrp p 0", "task t", "lrp p 1"}},
		{"duplicates dropped", func(q *Queue) error {
			return errors.Join(q.Add([]Item{lrp("p", 0), lrp("p", 0), task("t")}), q.Add([]Item{task("t"), lrp("p", 1)}))
		}, []string{"lrp p 0", "task t", "lrp p 1"}},
		{"retries first", func(q *Queue) error {
			err := q.Add([]Item{lrp("p", 0), task("t")})
			q.Retry([]Item{task("r"), lrp("q", 3)})
			return err
		}, []string{"task r", "lrp q 3", "lrp p 0", "task t"}},
		{"retry replaces a queued duplicate", func(q *Queue) error {
			err := q.Add([]Item{lrp("p", 0), task("t")})
			q.Retry([]Item{task("t")})
			return errors.Join(err, q.Add([]Item{task("t"), task("u")}))
		}, []string{"task t", "lrp p 0", "task u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := New(Config{Window: time.Millisecond, FlushSize: 100, MaxQueued: 100})
			if err := tt.do(q); err != nil {
				t.Fatal(err)
			}
			if got := keys(next(t, q)); !slices.Equal(got, tt.want) {
				t.Errorf("batch = %q, want %q", got, tt.want)
			}
			if q.Len() != 0 {
				t.Errorf("Len after Next = %d, want 0", q.Len())
			}
		})
	}
}

func TestRetryKeepsAttempts(t *testing.T) {
	t.Parallel()
	q := New(Config{Window: time.Millisecond, FlushSize: 100, MaxQueued: 100})
	if err := q.Add([]Item{task("t")}); err != nil {
		t.Fatal(err)
	}
	q.Retry([]Item{{Task: &bbsv1.Task{TaskGuid: "t"}, Attempts: 2, Avoid: []string{"cell-a"}}})
	items := next(t, q)
	if len(items) != 1 || items[0].Attempts != 2 || !slices.Equal(items[0].Avoid, []string{"cell-a"}) {
		t.Errorf("items = %+v, want the retried one", items)
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	const window = 150 * time.Millisecond
	q := New(Config{Window: window, FlushSize: 1000, MaxQueued: 1000})
	start := time.Now()
	if err := q.Add([]Item{task("a")}); err != nil {
		t.Fatal(err)
	}
	// A later arrival joins the batch and does not extend the window.
	go func() { _ = q.Add([]Item{task("b")}) }()
	items := next(t, q)
	if d := time.Since(start); d < window {
		t.Errorf("Next returned after %v, before the %v window", d, window)
	}
	if d := time.Since(start); d > window+5*time.Second {
		t.Errorf("Next returned after %v", d)
	}
	if len(items) < 1 || items[0].Key() != "task a" {
		t.Errorf("batch = %q", keys(items))
	}
}

func TestFlushEarly(t *testing.T) {
	t.Parallel()
	q := New(Config{Window: time.Hour, FlushSize: 3, MaxQueued: 10})
	done := make(chan []Item, 1)
	go func() {
		items, _ := q.Next(context.Background())
		done <- items
	}()
	for _, guid := range []string{"a", "b", "c"} {
		if err := q.Add([]Item{task(guid)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case items := <-done:
		if len(items) != 3 {
			t.Errorf("batch = %q, want 3 items", keys(items))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not flush once FlushSize items were queued")
	}
}

func TestFull(t *testing.T) {
	t.Parallel()
	q := New(Config{Window: time.Hour, FlushSize: 100, MaxQueued: 3})
	if err := q.Add([]Item{task("a"), task("b")}); err != nil {
		t.Fatal(err)
	}
	if err := q.Add([]Item{task("c"), task("d")}); !errors.Is(err, ErrFull) {
		t.Fatalf("Add beyond MaxQueued = %v, want ErrFull", err)
	}
	if q.Len() != 2 {
		t.Errorf("Len = %d, want 2: a refused Add queues nothing", q.Len())
	}
	q.Retry([]Item{task("r1"), task("r2")})
	if q.Len() != 4 {
		t.Errorf("Len = %d, want 4: retries are never refused", q.Len())
	}
}

func TestNextCancelled(t *testing.T) {
	t.Parallel()
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprint("queued=", queued), func(t *testing.T) {
			t.Parallel()
			q := New(Config{Window: time.Hour, FlushSize: 100, MaxQueued: 100})
			if queued {
				if err := q.Add([]Item{task("a")}); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := q.Next(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Next = %v, want context.Canceled", err)
			}
		})
	}
}

func TestConcurrentAdds(t *testing.T) {
	t.Parallel()
	q := New(Config{Window: 5 * time.Millisecond, FlushSize: 50, MaxQueued: 10_000})
	const writers, each = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := q.Add([]Item{lrp(fmt.Sprint("p", w), int32(i))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	seen := map[string]bool{}
	for len(seen) < writers*each {
		for _, it := range next(t, q) {
			if seen[it.Key()] {
				t.Fatalf("%s delivered twice", it.Key())
			}
			seen[it.Key()] = true
		}
	}
	wg.Wait()
}
