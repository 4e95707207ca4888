package containerd

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestRestart simulates a rep restart: the first Runtime is closed (its
// processes keep running) and a second one on the same namespace and state
// directory lists the containers and reattaches to their processes.
func TestRestart(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{NetworkHost, NetworkBridge} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r1, cfg := newCellConfig(t, mode)
			labels := map[string]string{"instance-guid": "abc-123", "process-guid": "web", "index": "0"}
			c := create(t, r1, runtime.ContainerSpec{Labels: labels, Ports: []uint32{8080}, MemoryBytes: 64 << 20})

			// app prints, then waits for /tmp/go before printing again.
			_, out1, _ := start(t, r1, c.ID, runtime.ProcessSpec{ID: "app", Args: []string{"/bin/sh", "-c",
				`echo before; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo after; echo oops >&2; exit 7`}})
			// quick exits while no Runtime is attached.
			start(t, r1, c.ID, runtime.ProcessSpec{ID: "quick", Args: []string{"/bin/sh", "-c",
				`while [ ! -e /tmp/quick ]; do sleep 0.02; done; exit 5`}})
			waitFor(t, out1, "before")
			if err := r1.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			r2, err := New(cfg, testenv.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r2.Close() })
			sh(t, r2, c.ID, "touch /tmp/quick")

			cs, err := r2.List(context.Background())
			if err != nil || len(cs) != 1 {
				t.Fatalf("List: %+v, %v; want the one container", cs, err)
			}
			got := cs[0]
			if got.ID != c.ID || !maps.Equal(got.Labels, labels) || got.IP != c.IP || got.HostIP != c.HostIP || !slices.Equal(got.Ports, c.Ports) {
				t.Errorf("listed %+v, created %+v with labels %v", got, c, labels)
			}
			if !slices.Contains(got.Processes, "app") {
				t.Errorf("processes %v, want app among them", got.Processes)
			}

			var out2, err2 syncBuffer
			app, err := r2.Attach(context.Background(), c.ID, "app", &out2, &err2)
			if err != nil {
				t.Fatalf("Attach app: %v", err)
			}
			if _, err := r2.Attach(context.Background(), c.ID, "app", nil, nil); !errors.Is(err, ErrAttached) {
				t.Errorf("second Attach: %v, want ErrAttached", err)
			}
			sh(t, r2, c.ID, "touch /tmp/go")
			st, err := app.Wait(context.Background())
			if err != nil || st.Code != 7 {
				t.Fatalf("app after reattach: %+v, %v; want exit 7", st, err)
			}
			if out2.String() != "after\n" || err2.String() != "oops\n" {
				t.Errorf("output after reattach: stdout %q, stderr %q", out2.String(), err2.String())
			}
			if strings.Contains(out1.String(), "after") {
				t.Errorf("the closed Runtime still copied output: %q", out1.String())
			}

			// quick exited while detached: attaching gives its status.
			quick, err := r2.Attach(context.Background(), c.ID, "quick", nil, nil)
			if err != nil {
				t.Fatalf("Attach quick: %v", err)
			}
			if st, err := quick.Wait(context.Background()); err != nil || st.Code != 5 {
				t.Errorf("quick: %+v, %v; want exit 5", st, err)
			}
			// Exited processes are deleted once waited for.
			if _, err := r2.Attach(context.Background(), c.ID, "quick", nil, nil); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("Attach to a reaped process: %v, want ErrNotFound", err)
			}
			if _, err := r2.Attach(context.Background(), c.ID, "nope", nil, nil); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("Attach to an unknown process: %v, want ErrNotFound", err)
			}
			// The second Runtime owns the container now.
			if err := r2.Destroy(context.Background(), c.ID); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 5*time.Second, func() error { return fifoDirsLeft(cfg) })
		})
	}
}

func TestListProcesses(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{})
	idle := create(t, r, runtime.ContainerSpec{})
	start(t, r, c.ID, runtime.ProcessSpec{ID: "app", Args: []string{"sleep", "600"}})
	start(t, r, c.ID, runtime.ProcessSpec{ID: "check", Args: []string{"sleep", "600"}})
	cs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string][]string{}
	for _, x := range cs {
		procs[x.ID] = x.Processes
	}
	if got := procs[c.ID]; !slices.Equal(got, []string{"app", "check"}) {
		t.Errorf("processes of %s: %v, want [app check]", c.ID, got)
	}
	if got, ok := procs[idle.ID]; !ok || len(got) != 0 {
		t.Errorf("processes of the idle container: %v (listed %v), want none", got, ok)
	}
}
