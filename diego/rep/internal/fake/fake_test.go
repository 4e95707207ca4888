package fake_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/fake"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func setup(t *testing.T) (*fake.Runtime, *runtime.Container) {
	t.Helper()
	rt := fake.New()
	ctx := context.Background()
	if err := rt.EnsureStack(ctx, "cflinuxfs4", "/stacks/cflinuxfs4"); err != nil {
		t.Fatal(err)
	}
	c, err := rt.Create(ctx, runtime.ContainerSpec{ID: "guid-1", Stack: "cflinuxfs4", Ports: []uint32{8080, 2222},
		Labels: map[string]string{"process-guid": "web"}, MemoryBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return rt, c
}

func wait(t *testing.T, p runtime.Process) runtime.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait %s: %v", p.ID(), err)
	}
	return st
}

func TestProcesses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		ignore    bool
		drive     func(*fake.Proc, runtime.Process)
		wantCode  int
		wantOOM   bool
		wantOut   string
		wantErr   string
		wantRecvd []syscall.Signal
	}{
		{
			name: "manual exit with output", args: []string{"/home/vcap/app/start"},
			drive: func(p *fake.Proc, _ runtime.Process) {
				p.Stdout("hello\n")
				p.Stderr("warn\n")
				p.Exit(3)
			},
			wantCode: 3, wantOut: "hello\n", wantErr: "warn\n",
		},
		{
			name: "OOM", args: []string{"app"},
			drive:    func(p *fake.Proc, _ runtime.Process) { p.OOM() },
			wantCode: 137, wantOOM: true,
		},
		{
			name: "SIGTERM ends a manual process", args: []string{"app"},
			drive: func(_ *fake.Proc, h runtime.Process) {
				h.Signal(context.Background(), syscall.SIGTERM)
			},
			wantCode: 143, wantRecvd: []syscall.Signal{syscall.SIGTERM},
		},
		{
			name: "ignored SIGTERM, then SIGKILL", args: []string{"app"}, ignore: true,
			drive: func(p *fake.Proc, h runtime.Process) {
				h.Signal(context.Background(), syscall.SIGTERM)
				if _, ended := p.Status(); ended {
					panic("ended on an ignored SIGTERM")
				}
				h.Signal(context.Background(), syscall.SIGKILL)
			},
			wantCode: 137, wantRecvd: []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL},
		},
		{
			name: "program", args: []string{"/tmp/lifecycle/healthcheck", "-port=8080"},
			drive:    func(*fake.Proc, runtime.Process) {},
			wantCode: 0, wantOut: "healthy on -port=8080\n",
		},
		{
			name: "program handling SIGTERM", args: []string{"graceful"},
			drive: func(_ *fake.Proc, h runtime.Process) {
				h.Signal(context.Background(), syscall.SIGTERM)
			},
			wantCode: 0, wantOut: "draining\n", wantRecvd: []syscall.Signal{syscall.SIGTERM},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt, c := setup(t)
			rt.IgnoreSignals = tt.ignore
			rt.Register("healthcheck", func(_ context.Context, p *fake.Proc) int {
				p.Stdout("healthy on " + p.Spec.Args[1] + "\n")
				return 0
			})
			rt.Register("graceful", func(ctx context.Context, p *fake.Proc) int {
				select {
				case <-p.Signals():
					p.Stdout("draining\n")
					return 0
				case <-ctx.Done():
					return 1
				}
			})
			var out, errw buffer
			h, err := rt.Run(context.Background(), c.ID, runtime.ProcessSpec{ID: "app", Args: tt.args, Stdout: &out, Stderr: &errw})
			if err != nil {
				t.Fatal(err)
			}
			p, err := rt.WaitProcess(context.Background(), c.ID, "app")
			if err != nil {
				t.Fatal(err)
			}
			tt.drive(p, h)
			st := wait(t, h)
			if st.Code != tt.wantCode || st.OOMKilled != tt.wantOOM || st.ExitedAt.IsZero() {
				t.Errorf("status %+v, want code %d oom %v", st, tt.wantCode, tt.wantOOM)
			}
			if out.String() != tt.wantOut || errw.String() != tt.wantErr {
				t.Errorf("output %q / %q, want %q / %q", out.String(), errw.String(), tt.wantOut, tt.wantErr)
			}
			if got := p.Received(); !slices.Equal(got, tt.wantRecvd) {
				t.Errorf("received %v, want %v", got, tt.wantRecvd)
			}
			// An exited process is reaped, and signalling it is harmless.
			if err := h.Signal(context.Background(), syscall.SIGKILL); err != nil {
				t.Errorf("Signal after exit: %v", err)
			}
			if rt.Process(c.ID, "app") != nil {
				t.Error("exited process not reaped")
			}
		})
	}
}

func TestContainers(t *testing.T) {
	t.Parallel()
	rt, c := setup(t)
	ctx := context.Background()
	if c.IP != "127.0.0.1" || len(c.Ports) != 2 || c.Ports[0].ContainerPort != c.Ports[0].HostPort || c.Ports[0].HostPort == c.Ports[1].HostPort {
		t.Errorf("host-networking container %+v", c)
	}
	if _, err := rt.Create(ctx, runtime.ContainerSpec{ID: "guid-1", Stack: "cflinuxfs4"}); err == nil {
		t.Error("duplicate id accepted")
	}
	if _, err := rt.Create(ctx, runtime.ContainerSpec{ID: "guid-2", Stack: "unknown"}); err == nil {
		t.Error("unknown stack accepted")
	}
	if _, err := rt.Run(ctx, c.ID, runtime.ProcessSpec{ID: "x", User: "root", Args: []string{"id"}}); err == nil {
		t.Error("root accepted")
	}
	if _, err := rt.Run(ctx, "nope", runtime.ProcessSpec{ID: "x", Args: []string{"id"}}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Run in a missing container: %v", err)
	}

	app, _ := rt.Run(ctx, c.ID, runtime.ProcessSpec{ID: "app", Args: []string{"app"}})
	cs, err := rt.List(ctx)
	if err != nil || len(cs) != 1 || cs[0].Labels["process-guid"] != "web" || !slices.Equal(cs[0].Processes, []string{"app"}) {
		t.Errorf("List: %+v, %v", cs, err)
	}

	rt.WriteFile(c.ID, "/tmp/result.json", []byte(`{"ok":true}`))
	if data, err := rt.ReadFile(ctx, c.ID, "/tmp/result.json", 5); err != nil || string(data) != `{"ok"` {
		t.Errorf("ReadFile: %q, %v", data, err)
	}
	if _, err := rt.ReadFile(ctx, c.ID, "/nope", 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	rt.SetMetrics(c.ID, runtime.Metrics{MemoryBytes: 42})
	if m, err := rt.Metrics(ctx, c.ID); err != nil || m.MemoryBytes != 42 || m.MemoryLimitBytes != 256<<20 || m.At.IsZero() {
		t.Errorf("Metrics: %+v, %v", m, err)
	}

	rt.Fail("Destroy", errors.New("boom"))
	if err := rt.Destroy(ctx, c.ID); err == nil || err.Error() != "boom" {
		t.Errorf("Destroy with a queued failure: %v", err)
	}
	if err := rt.Destroy(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, app); st.Code != 137 {
		t.Errorf("process of a destroyed container: %+v", st)
	}
	if err := rt.Destroy(ctx, c.ID); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if got := rt.Destroyed(); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("Destroyed() = %v", got)
	}
	if rt.Calls("Destroy") != 3 {
		t.Errorf("Calls(Destroy) = %d, want 3", rt.Calls("Destroy"))
	}
}

func TestBridge(t *testing.T) {
	t.Parallel()
	rt := fake.New()
	rt.Bridge = true
	rt.EnsureStack(context.Background(), "s", "/s")
	a, _ := rt.Create(context.Background(), runtime.ContainerSpec{ID: "a", Stack: "s", Ports: []uint32{8080}})
	b, _ := rt.Create(context.Background(), runtime.ContainerSpec{ID: "b", Stack: "s", Ports: []uint32{8080}})
	if a.IP == a.HostIP || a.IP == b.IP || a.Ports[0].ContainerPort != 8080 || a.Ports[0].HostPort == b.Ports[0].HostPort {
		t.Errorf("bridge containers %+v and %+v", a, b)
	}
}

// TestRestart: output and exits while detached reach the next attacher.
func TestRestart(t *testing.T) {
	t.Parallel()
	rt, c := setup(t)
	ctx := context.Background()
	var before buffer
	rt.Run(ctx, c.ID, runtime.ProcessSpec{ID: "app", Args: []string{"app"}, Stdout: &before})
	rt.Run(ctx, c.ID, runtime.ProcessSpec{ID: "task", Args: []string{"task"}})
	app, task := rt.Process(c.ID, "app"), rt.Process(c.ID, "task")
	app.Stdout("one\n")

	rt.Detach() // the rep goes away
	app.Stdout("two\n")
	task.Exit(9)

	cs, _ := rt.List(ctx)
	if !slices.Equal(cs[0].Processes, []string{"app"}) {
		t.Errorf("processes after the task exited: %v", cs[0].Processes)
	}
	var after buffer
	h, err := rt.Attach(ctx, c.ID, "app", &after, nil)
	if err != nil {
		t.Fatal(err)
	}
	app.Stdout("three\n")
	if before.String() != "one\n" || after.String() != "two\nthree\n" {
		t.Errorf("output before %q, after %q", before.String(), after.String())
	}
	th, err := rt.Attach(ctx, c.ID, "task", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := wait(t, th); st.Code != 9 {
		t.Errorf("task exited while detached: %+v", st)
	}
	if _, err := rt.Attach(ctx, c.ID, "task", nil, nil); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Attach to a reaped process: %v", err)
	}
	app.Exit(0)
	if st := wait(t, h); st.Code != 0 {
		t.Errorf("app: %+v", st)
	}
}

func TestWaitProcessTimesOut(t *testing.T) {
	t.Parallel()
	rt, c := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := rt.WaitProcess(ctx, c.ID, "never"); err == nil || !strings.Contains(err.Error(), "never started") {
		t.Errorf("WaitProcess: %v", err)
	}
}
