package rep_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep"
	"github.com/anvilpaas/anvil/diego/rep/internal/containerd"
	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestWithContainerd runs a cell on the real runtime (the test binary's
// containerd, a busybox stack, host networking): an instance that serves
// on $PORT, one that crashes, and a task with a result.
func TestWithContainerd(t *testing.T) {
	t.Parallel()
	env := testenv.Containerd(t)
	stack := testenv.BusyboxStack(t)
	c := newCell(t, cellOptions{containerd: true, tweak: func(cfg *rep.Config) {
		cfg.Stacks = map[string]string{"busybox": stack}
		cfg.Containerd = containerd.Config{
			Socket: env.Socket, Namespace: env.Namespace, StateDir: t.TempDir(), HostIP: "127.0.0.1",
			// Above the containerd package's test cells (61000-65479).
			PortRange: containerd.PortRange{Min: 65480, Max: 65530},
			Network:   containerd.NetworkConfig{Mode: containerd.NetworkHost},
		}
		cfg.HealthCheck.StartTimeout = time.Minute
	}})

	web := &bbsv1.DesiredLRP{
		ProcessGuid: "web", Domain: "cf-apps", Instances: 1, RootFs: "preloaded:busybox", MemoryMb: 64, DiskMb: 64,
		Ports: []uint32{8080}, LogGuid: "app-web", LogRateLimitBytesPerSecond: -1,
		Action:      &bbsv1.RunAction{Path: "/bin/sh", Args: []string{"-c", `echo "listening on $PORT as $(id -u)"; exec httpd -f -p $PORT -h /tmp`}, LogSource: "APP/PROC/WEB"},
		HealthCheck: &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT}},
	}
	if resp := c.desire(web); len(resp.GetFailedLrps()) != 0 {
		t.Fatalf("refused %v", resp.GetFailedLrps())
	}
	a := c.waitState("web", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING)
	ports := a.GetNetInfo().GetPorts()
	// Host networking: the process listens on the host port, but the BBS
	// is told the desired container port (the one routes name).
	if len(ports) != 1 || ports[0].GetHostPort() < 65480 || ports[0].GetContainerPort() != 8080 || a.GetNetInfo().GetAddress() != "127.0.0.1" {
		t.Fatalf("net info %v", a.GetNetInfo())
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].GetHostPort()), 5*time.Second)
	if err != nil {
		t.Fatalf("the app does not answer: %v", err)
	}
	conn.Close()
	testenv.Eventually(t, timeout, func() error {
		if !c.logs.has(fmt.Sprintf("listening on %d as 2000", ports[0].GetHostPort())) {
			return errors.New("no output from the app")
		}
		return nil
	})

	crashy := &bbsv1.DesiredLRP{
		ProcessGuid: "crashy", Domain: "cf-apps", Instances: 1, RootFs: "preloaded:busybox", MemoryMb: 64, DiskMb: 64,
		LogRateLimitBytesPerSecond: -1, Action: &bbsv1.RunAction{Path: "/bin/sh", Args: []string{"-c", "exit 3"}},
	}
	c.desire(crashy)
	if a := c.waitState("crashy", 0, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED); a.GetCrashReason() != "APP/PROC/WEB: Exited with status 3" {
		t.Errorf("crash reason %q", a.GetCrashReason())
	}

	task := &bbsv1.Task{TaskGuid: "job", Domain: "cf-tasks", State: bbsv1.TaskState_TASK_STATE_PENDING, Definition: &bbsv1.TaskDefinition{
		RootFs: "preloaded:busybox", MemoryMb: 64, DiskMb: 64, LogRateLimitBytesPerSecond: -1, ResultFile: "/tmp/result",
		Action: &bbsv1.RunAction{Path: "/bin/sh", Args: []string{"-c", "echo -n 42 > /tmp/result"}},
	}}
	c.bbs.PutTask(task)
	if resp, err := c.client.Perform(ctxFor(t), &repv1.PerformRequest{Tasks: []*bbsv1.Task{task}}); err != nil || len(resp.GetFailedTasks()) != 0 {
		t.Fatalf("Perform task = %v, %v", resp, err)
	}
	testenv.Eventually(t, timeout, func() error {
		tk := c.bbs.Task("job")
		if tk.GetState() != bbsv1.TaskState_TASK_STATE_COMPLETED {
			return fmt.Errorf("task %v", tk.GetState())
		}
		if tk.GetFailed() || tk.GetResult() != "42" {
			return fmt.Errorf("task failed=%v reason=%q result=%q", tk.GetFailed(), tk.GetFailureReason(), tk.GetResult())
		}
		return nil
	})

	// Stopping the cell evacuates it (the instance is never replaced, so
	// after the short timeout it is stopped) and leaves no container.
	if err := c.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if e := c.bbs.Evacuating("web", 0); e != nil {
		t.Errorf("evacuating record left: %v", e)
	}
}
