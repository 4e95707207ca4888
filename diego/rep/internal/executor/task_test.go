package executor

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// waitTask waits until the task is COMPLETED in the BBS.
func (h *harness) waitTask(guid string) *bbsv1.Task {
	h.t.Helper()
	var tk *bbsv1.Task
	testenv.Eventually(h.t, timeout, func() error {
		tk = h.bbs.Task(guid)
		if tk.GetState() != bbsv1.TaskState_TASK_STATE_COMPLETED {
			return fmt.Errorf("task %s is %v", guid, tk.GetState())
		}
		return nil
	})
	return tk
}

func TestTaskCompletes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("r", MaxResultBytes+100)
	tests := []struct {
		name       string
		resultFile string
		content    string
		status     runtime.ExitStatus
		wantFailed bool
		wantReason string
		wantResult string
	}{
		{"success with result", "/tmp/result.json", `{"ok":true}`, runtime.ExitStatus{}, false, "", `{"ok":true}`},
		{"result cut to 10 KiB", "/tmp/result", long, runtime.ExitStatus{}, false, "", long[:MaxResultBytes]},
		{"no result file", "", "", runtime.ExitStatus{}, false, "", ""},
		{"failure", "", "", runtime.ExitStatus{Code: 2}, true, "APP/TASK/migrate: Exited with status 2", ""},
		{"out of memory", "", "", runtime.ExitStatus{Code: 137, OOMKilled: true}, true, "APP/TASK/migrate: Exited with status 137 (out of memory)", ""},
		{"missing result file", "/tmp/none", "", runtime.ExitStatus{}, true, "failed to fetch result", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{})
			tk := task("t1")
			tk.Definition.ResultFile = tt.resultFile
			if resp := h.runTask(tk); len(resp.GetFailedTasks()) != 0 {
				t.Fatalf("refused %v", resp.GetFailedTasks())
			}
			p := h.proc("t1", taskProcess)
			if tt.content != "" {
				h.rt.setFile("t1", tt.resultFile, []byte(tt.content))
			}
			if p.spec.User != "vcap" || p.spec.Args[0] != "/bin/sh" {
				t.Errorf("process spec %+v", p.spec)
			}
			p.exit(tt.status)
			got := h.waitTask("t1")
			if got.GetFailed() != tt.wantFailed || got.GetFailureReason() != tt.wantReason || got.GetResult() != tt.wantResult {
				t.Errorf("task failed=%v reason=%q result=%d bytes; want %v %q %d bytes",
					got.GetFailed(), got.GetFailureReason(), len(got.GetResult()), tt.wantFailed, tt.wantReason, len(tt.wantResult))
			}
			h.waitEmpty()
			want := "succeeded"
			if tt.wantFailed {
				want = "failed"
			}
			if n := h.metric("rep_tasks_completed_total", "result", want); n != 1 {
				t.Errorf("rep_tasks_completed_total{result=%s} = %v", want, n)
			}
		})
	}
}

func TestTaskUpload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	bs := newBlobstore(t)
	tk := task("stage")
	tk.Definition.Uploads = []*bbsv1.UploadAction{{Artifact: "droplet", From: "/tmp/droplet", To: bs.srv.URL + "/droplets/d1?signature=x"}}
	h.runTask(tk)
	p := h.proc("stage", taskProcess)
	h.rt.setFile("stage", "/tmp/droplet", []byte("droplet bits"))
	p.exit(runtime.ExitStatus{})
	got := h.waitTask("stage")
	if got.GetFailed() {
		t.Fatalf("task failed: %s", got.GetFailureReason())
	}
	if b, ok := bs.uploaded("/droplets/d1"); !ok || string(b) != "droplet bits" {
		t.Errorf("uploaded %q (%v)", b, ok)
	}
	h.logs.waitFor(t, "Uploaded droplet")

	// A failing upload fails the task.
	tk = task("stage2")
	tk.Definition.Uploads = []*bbsv1.UploadAction{{Artifact: "droplet", From: "/tmp/missing", To: bs.srv.URL + "/droplets/d2"}}
	h.runTask(tk)
	h.proc("stage2", taskProcess).exit(runtime.ExitStatus{})
	if got := h.waitTask("stage2"); !got.GetFailed() || got.GetFailureReason() != "Failed to upload payload for droplet" {
		t.Errorf("task failed=%v reason %q", got.GetFailed(), got.GetFailureReason())
	}
}

func TestTaskNotStarted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(h *harness, tk *bbsv1.Task)
	}{
		{"already running here: should_start false", func(h *harness, tk *bbsv1.Task) {
			tk.State, tk.CellId = bbsv1.TaskState_TASK_STATE_RUNNING, cellID
			h.bbs.PutTask(tk)
		}},
		{"running elsewhere", func(h *harness, tk *bbsv1.Task) {
			tk.State, tk.CellId = bbsv1.TaskState_TASK_STATE_RUNNING, "cell-2"
			h.bbs.PutTask(tk)
		}},
		{"unknown task", func(*harness, *bbsv1.Task) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, options{})
			tk := task("t")
			tt.setup(h, tk)
			h.ex.Perform(ctxFor(t), &repv1.PerformRequest{Tasks: []*bbsv1.Task{tk}})
			h.waitEmpty()
			if h.calls("StartTask") != 1 || h.calls("CompleteTask") != 0 || len(h.rt.destroyedIDs()) != 0 {
				t.Errorf("calls %v, destroyed %v", h.bbs.Calls(""), h.rt.destroyedIDs())
			}
		})
	}
}

func TestCancelTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.runTask(task("long"))
	p := h.proc("long", taskProcess)
	// The BBS completes the task as cancelled, then asks the cell.
	if _, err := h.bbs.CancelTask(ctxFor(t), &bbsv1.CancelTaskRequest{TaskGuid: "long"}); err != nil {
		t.Fatal(err)
	}
	if err := h.ex.CancelTask(ctxFor(t), "long"); err != nil {
		t.Fatal(err)
	}
	h.waitEmpty()
	if got := p.received(); len(got) == 0 || got[0] != syscall.SIGTERM {
		t.Errorf("signals %v", got)
	}
	if h.calls("CompleteTask") != 0 {
		t.Error("a cancelled task was completed again")
	}
	if tk := h.bbs.Task("long"); tk.GetFailureReason() != "task was cancelled" {
		t.Errorf("task %v", tk)
	}
	if err := h.ex.CancelTask(ctxFor(t), "unknown"); err != nil {
		t.Errorf("cancel unknown: %v", err)
	}
}

func TestTaskContainerFailureRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.rt.createErr = errors.New("no more loop devices")
	h.runTask(task("unlucky"))
	testenv.Eventually(t, timeout, func() error {
		tk := h.bbs.Task("unlucky")
		if tk.GetState() != bbsv1.TaskState_TASK_STATE_PENDING || tk.GetRejectionCount() != 1 {
			return fmt.Errorf("task %v", tk)
		}
		if tk.GetRejectionReason() != "failed to create container" {
			return fmt.Errorf("rejection reason %q", tk.GetRejectionReason())
		}
		return nil
	})
	h.waitEmpty()
}
