package containerd

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestRun(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{})
	tests := []struct {
		name       string
		spec       runtime.ProcessSpec
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "stdout and stderr apart",
			spec:       runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "echo out; echo err >&2; echo out2"}},
			wantStdout: "out\nout2\n", wantStderr: "err\n",
		},
		{
			name:     "exit code",
			spec:     runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "exit 42"}},
			wantCode: 42,
		},
		{
			name:       "vcap by default",
			spec:       runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "id -u; id -g; id -G"}},
			wantStdout: "2000\n2000\n2000\n",
		},
		{
			name:       "uid:gid",
			spec:       runtime.ProcessSpec{User: "2001:2002", Args: []string{"/bin/sh", "-c", "id -u; id -g"}},
			wantStdout: "2001\n2002\n",
		},
		{
			name:       "user by name",
			spec:       runtime.ProcessSpec{User: "nobody", Dir: "/", Args: []string{"/bin/sh", "-c", "id -u"}},
			wantStdout: "65534\n",
		},
		{
			name: "env, dir and home",
			spec: runtime.ProcessSpec{
				Env:  []string{"FOO=bar baz", "PORT=8080"},
				Dir:  "/tmp",
				Args: []string{"/bin/sh", "-c", `echo "$FOO|$PORT|$(pwd)|$HOME|$PATH"`},
			},
			wantStdout: "bar baz|8080|/tmp|/home/vcap|" + defaultPath + "\n",
		},
		{
			name:       "home is the default dir",
			spec:       runtime.ProcessSpec{Args: []string{"pwd"}},
			wantStdout: "/home/vcap\n",
		},
		{
			name:       "open-file limit",
			spec:       runtime.ProcessSpec{NoFile: 4096, Args: []string{"/bin/sh", "-c", "ulimit -n"}},
			wantStdout: "4096\n",
		},
		{
			name:       "default open-file limit",
			spec:       runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "ulimit -n"}},
			wantStdout: "16384\n",
		},
		{
			name: "unprivileged and confined",
			spec: runtime.ProcessSpec{Args: []string{"/bin/sh", "-c",
				`grep -E '^(CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t'`}},
			wantStdout: "CapPrm:0000000000000000\nCapEff:0000000000000000\nNoNewPrivs:1\nSeccomp:2\n",
		},
		{
			name:       "pid 1 is the init",
			spec:       runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}},
			wantStdout: initPath + " -P ",
		},
		{
			name:       "killed by a signal",
			spec:       runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "kill -9 $$"}},
			wantCode:   137,
			wantStdout: "",
		},
		{
			name:     "command not found",
			spec:     runtime.ProcessSpec{Args: []string{"/bin/sh", "-c", "exec /no/such/thing"}},
			wantCode: 127,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, r, c.ID, tt.spec)
			if res.Code != tt.wantCode || res.OOMKilled {
				t.Errorf("exit %d (oom %v), want %d; stderr %q", res.Code, res.OOMKilled, tt.wantCode, res.stderr)
			}
			if tt.wantStdout != "" && res.stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", res.stdout, tt.wantStdout)
			}
			if tt.wantStderr != "" && res.stderr != tt.wantStderr {
				t.Errorf("stderr %q, want %q", res.stderr, tt.wantStderr)
			}
			if res.ExitedAt.IsZero() || time.Since(res.ExitedAt) > time.Minute {
				t.Errorf("exited at %v", res.ExitedAt)
			}
		})
	}
}

func TestRunRefused(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{})
	tests := []struct {
		name     string
		spec     runtime.ProcessSpec
		wantRoot bool
	}{
		{"root by name", runtime.ProcessSpec{User: "root"}, true},
		{"uid 0", runtime.ProcessSpec{User: "0"}, true},
		{"uid 0 with a group", runtime.ProcessSpec{User: "0:2000"}, true},
		{"gid 0", runtime.ProcessSpec{User: "2000:0"}, true},
		{"group root by name", runtime.ProcessSpec{User: "vcap:root"}, true},
		{"unknown user", runtime.ProcessSpec{User: "nosuchuser"}, false},
		{"no args", runtime.ProcessSpec{Args: []string{}}, false},
		{"bad id", runtime.ProcessSpec{ID: "no spaces"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := tt.spec
			if spec.ID == "" {
				spec.ID = "refused"
			}
			if spec.Args == nil {
				spec.Args = []string{"id"}
			}
			_, err := r.Run(context.Background(), c.ID, spec)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if errors.Is(err, ErrRootUser) != tt.wantRoot {
				t.Errorf("error %v: ErrRootUser %v, want %v", err, !tt.wantRoot, tt.wantRoot)
			}
		})
	}
	if _, err := r.Run(context.Background(), "no-such-container", runtime.ProcessSpec{ID: "x", Args: []string{"id"}}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Run in a missing container: %v, want ErrNotFound", err)
	}
}

func TestSignal(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{Ports: []uint32{8080}})
	port := c.Ports[0].ContainerPort

	t.Run("trapped", func(t *testing.T) {
		t.Parallel()
		p, out, _ := start(t, r, c.ID, runtime.ProcessSpec{Args: []string{"/bin/sh", "-c",
			`trap 'echo bye; exit 3' TERM; echo ready; while :; do sleep 0.05; done`}})
		waitFor(t, out, "ready")
		if err := p.Signal(context.Background(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(context.Background())
		if err != nil || st.Code != 3 {
			t.Fatalf("Wait: %+v, %v; want exit 3", st, err)
		}
		if !strings.Contains(out.String(), "bye") {
			t.Errorf("stdout %q: the trap did not run", out)
		}
		// Signalling an exited process is not an error.
		if err := p.Signal(context.Background(), syscall.SIGKILL); err != nil {
			t.Errorf("Signal after exit: %v", err)
		}
	})
	t.Run("default action", func(t *testing.T) {
		t.Parallel()
		p, _, _ := start(t, r, c.ID, runtime.ProcessSpec{
			Env:  []string{"PORT=" + itoa(port)},
			Args: []string{"/bin/sh", "-c", "exec httpd -f -p $PORT -h /tmp"},
		})
		testenv.Eventually(t, 10*time.Second, func() error { return dialable("127.0.0.1:" + itoa(port)) })
		began := time.Now()
		if err := p.Signal(context.Background(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(context.Background())
		if err != nil || st.Code != 143 || st.OOMKilled {
			t.Fatalf("Wait: %+v, %v; want exit 143", st, err)
		}
		t.Logf("SIGTERM to exit: %v", time.Since(began))
	})
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
