package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/appenv"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Task results and failure reasons.
const (
	// MaxResultBytes is how much of a task's result file becomes its
	// result (the BBS contract: its first 10 KiB).
	MaxResultBytes = 10 << 10
	// reasonFetchResult is Diego's TaskCompletionReasonFailedToFetchResult.
	reasonFetchResult = "failed to fetch result"
	// reasonMissingContainer is Diego's
	// TaskCompletionReasonMissingContainer, for a task the BBS runs here
	// without a container.
	reasonMissingContainer = "task container does not exist"
	// reasonCellGone completes a task the evacuation had to stop; it is
	// what the BBS would say once the cell is gone.
	reasonCellGone = "cell disappeared before completion"
)

// FileOpener is a runtime that can stream a file out of a container,
// which task uploads prefer to reading the whole file with ReadFile. It is
// not (yet) part of runtime.Runtime.
type FileOpener interface {
	OpenFile(ctx context.Context, containerID, path string) (io.ReadCloser, error)
}

// taskEnd is how a task container ended.
type taskEnd struct {
	failed bool
	reason string
	result string
	// reject: the task could not be run here, through no fault of its
	// own; the BBS places it again.
	reject bool
	// stopped: cancelled or stopped (inst.stop says why), or abandoned.
	stopped bool
}

func (e *Executor) taskLogger(inst *instance) *slog.Logger {
	return e.logger.With("task_guid", inst.guid)
}

// runTask starts a task Perform reserved in the BBS, runs it to its end
// and reports its completion.
func (e *Executor) runTask(ctx context.Context, inst *instance) {
	log := e.taskLogger(inst)
	resp, err := e.bbs.StartTask(ctx, &bbsv1.StartTaskRequest{TaskGuid: inst.guid, CellId: e.cfg.CellID})
	if err != nil {
		log.Info("start refused; freeing the reservation", "err", err)
		return
	}
	if !resp.GetShouldStart() {
		log.Info("task already started; freeing the reservation")
		return
	}
	e.mu.Lock()
	inst.claimed, inst.claimedAt, inst.state = true, e.clock.Now(), stateInitializing
	e.mu.Unlock()
	log.Info("started")
	end := e.startTask(ctx, inst, log)
	e.finishTask(inst, end, log)
}

func taskRunInfo(t *bbsv1.Task) runInfo {
	def := t.GetDefinition()
	source := def.GetAction().GetLogSource()
	if source == "" {
		source = defaultTaskSource
	}
	return runInfo{
		LogGUID:      def.GetLogGuid(),
		LogSource:    source,
		LogRateLimit: def.GetLogRateLimitBytesPerSecond(),
		SuppressLogs: def.GetAction().GetSuppressLogOutput(),
		MetricTags:   def.GetMetricTags(),
	}
}

func (e *Executor) startTask(ctx context.Context, inst *instance, log *slog.Logger) taskEnd {
	def := inst.task.GetDefinition()
	run := taskRunInfo(inst.task)
	e.mu.Lock()
	inst.run = run
	e.mu.Unlock()
	logs := e.streamer(run, 0)
	defer logs.Close()

	stack, _ := e.stackOf(def.GetRootFs())
	maxPids := int64(def.GetMaxPids())
	if maxPids == 0 {
		maxPids = int64(def.GetAction().GetResourceLimits().GetPids())
	}
	ctr, err := e.create(ctx, inst, createSpec{
		spec: runtime.ContainerSpec{
			ID:          inst.guid,
			Stack:       stack,
			Labels:      encodeLabels(identity{kind: kindTask, guid: inst.guid, memoryMB: inst.memoryMB, diskMB: inst.diskMB, run: run}),
			MemoryBytes: int64(def.GetMemoryMb()) << 20,
			DiskBytes:   int64(def.GetDiskMb()) << 20,
			CPUWeight:   def.GetCpuWeight(),
			MaxPids:     maxPids,
		},
		setup: def.GetSetup(),
	}, logs, log)
	var f *failure
	switch {
	case errors.As(err, &f) && f.reason == "failed to create container":
		log.Warn("cannot create the container; rejecting the task", "err", f.err)
		return taskEnd{reject: true, reason: f.reason}
	case errors.As(err, &f):
		log.Info("task setup failed", "reason", f.reason, "err", f.err)
		return taskEnd{failed: true, reason: f.reason}
	case err != nil:
		return taskEnd{stopped: true}
	}

	action := def.GetAction()
	user := action.GetUser()
	if user == "" {
		user = defaultRunAsUser
	}
	proc, err := e.rt.Run(ctx, inst.guid, runtime.ProcessSpec{
		ID:     taskProcess,
		Args:   append([]string{action.GetPath()}, action.GetArgs()...),
		Env:    appenv.Task(def, appenv.Net{HostIP: ctr.HostIP, IP: ctr.IP}),
		Dir:    action.GetDir(),
		User:   user,
		NoFile: action.GetResourceLimits().GetNofile(),
		Stdout: logs.Stdout(),
		Stderr: logs.Stderr(),
	})
	if ctx.Err() != nil {
		return taskEnd{stopped: true}
	}
	if err != nil {
		log.Warn("cannot start the task's process", "err", err)
		return taskEnd{failed: true, reason: run.LogSource + ": failed to start the process"}
	}
	e.mu.Lock()
	inst.state = stateRunning
	e.mu.Unlock()
	return e.waitTask(ctx, inst, def, proc, logs, log)
}

// waitTask waits for a task's process, then reads its result and makes
// its uploads.
func (e *Executor) waitTask(ctx context.Context, inst *instance, def *bbsv1.TaskDefinition, proc runtime.Process, logs *logstream.Streamer, log *slog.Logger) taskEnd {
	e.mu.Lock()
	run := inst.run
	e.mu.Unlock()
	exited := e.watch(proc)
	var r waitResult
	select {
	case <-inst.stopping():
		if e.base.Err() == nil {
			e.stopProcess(proc, exited, log)
		}
		return taskEnd{stopped: true}
	case r = <-exited:
	}
	e.mu.Lock()
	stopped := inst.stop != stopNone
	e.mu.Unlock()
	if e.base.Err() != nil || stopped {
		return taskEnd{stopped: true}
	}
	logs.Flush()
	if r.err != nil {
		log.Warn("lost the task's process", "err", r.err)
		return taskEnd{failed: true, reason: run.LogSource + ": process lost: " + r.err.Error()}
	}
	logs.System(run.LogSource, logstream.Stdout, exitMessage(r.status))
	log.Info("task exited", "status", r.status.Code, "oom", r.status.OOMKilled)
	end := taskEnd{}
	if r.status.Code != 0 || r.status.OOMKilled {
		end = taskEnd{failed: true, reason: exitReason(run.LogSource, r.status)}
	}
	if def == nil { // recovered: ask the BBS for the definition
		def = e.taskDefinition(ctx, inst.guid, log)
	}
	if path := def.GetResultFile(); path != "" {
		b, err := e.rt.ReadFile(ctx, inst.guid, path, MaxResultBytes)
		switch {
		case err != nil && !end.failed:
			log.Info("cannot read the result file", "path", path, "err", err)
			return taskEnd{failed: true, reason: reasonFetchResult}
		case err == nil:
			end.result = string(b)
		}
	}
	if end.failed {
		return end
	}
	for _, u := range def.GetUploads() {
		if err := e.upload(ctx, inst.guid, u, logs); err != nil {
			log.Info("upload failed", "artifact", u.GetArtifact(), "err", err)
			return taskEnd{failed: true, reason: uploadFailed(u.GetArtifact())}
		}
	}
	return end
}

func (e *Executor) taskDefinition(ctx context.Context, guid string, log *slog.Logger) *bbsv1.TaskDefinition {
	resp, err := e.bbs.ListTasks(ctx, &bbsv1.ListTasksRequest{CellId: e.cfg.CellID})
	if err != nil {
		log.Warn("cannot fetch the task's definition: no result or uploads", "err", err)
		return nil
	}
	for _, t := range resp.GetTasks() {
		if t.GetTaskGuid() == guid {
			return t.GetDefinition()
		}
	}
	return nil
}

// uploadFailed is Diego's emittable upload error.
func uploadFailed(artifact string) string {
	if artifact == "" {
		return "Failed to upload payload"
	}
	return "Failed to upload payload for " + artifact
}

// upload PUTs a file from the container to the upload's URL.
func (e *Executor) upload(ctx context.Context, guid string, u *bbsv1.UploadAction, logs *logstream.Streamer) error {
	if u.GetArtifact() != "" {
		logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Uploading %s...", u.GetArtifact()))
	}
	target, err := url.Parse(u.GetTo())
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") {
		return errors.New("invalid upload URL") // signed: never printed
	}
	var body io.Reader
	size := int64(-1)
	if o, ok := e.rt.(FileOpener); ok {
		rc, err := o.OpenFile(ctx, guid, u.GetFrom())
		if err != nil {
			return fmt.Errorf("open %s: %w", u.GetFrom(), err)
		}
		defer rc.Close()
		body = io.LimitReader(rc, e.cfg.MaxUploadBytes)
	} else {
		b, err := e.rt.ReadFile(ctx, guid, u.GetFrom(), e.cfg.MaxUploadBytes+1)
		if err != nil {
			return fmt.Errorf("read %s: %w", u.GetFrom(), err)
		}
		if int64(len(b)) > e.cfg.MaxUploadBytes {
			return fmt.Errorf("%s is larger than %d bytes", u.GetFrom(), e.cfg.MaxUploadBytes)
		}
		body, size = strings.NewReader(string(b)), int64(len(b))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), body)
	if err != nil {
		return errors.New("invalid upload request")
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := e.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the signed URL
		}
		return fmt.Errorf("upload to %s: %w", target.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("upload to %s: %s", target.Host, resp.Status)
	}
	if u.GetArtifact() != "" {
		logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Uploaded %s", u.GetArtifact()))
	}
	return nil
}

// finishTask destroys the container and reports the task's end, unless
// the executor was closed.
func (e *Executor) finishTask(inst *instance, end taskEnd, log *slog.Logger) {
	if e.base.Err() != nil {
		return
	}
	e.mu.Lock()
	inst.state = stateCompleted
	reason := inst.stop
	e.mu.Unlock()
	e.destroy(inst, log)

	ctx, cancel := e.reportCtx()
	defer cancel()
	var err error
	switch {
	case end.stopped && reason == stopEvacuated:
		end = taskEnd{failed: true, reason: reasonCellGone}
		fallthrough
	case !end.stopped && !end.reject:
		_, err = e.bbs.CompleteTask(ctx, &bbsv1.CompleteTaskRequest{
			TaskGuid: inst.guid, CellId: e.cfg.CellID, Failed: end.failed, FailureReason: end.reason, Result: end.result,
		})
		if err == nil {
			e.metrics.tasks.WithLabelValues(taskResult(end.failed)).Inc()
			log.Info("completed", "failed", end.failed, "reason", end.reason)
		}
	case end.reject:
		_, err = e.bbs.RejectTask(ctx, &bbsv1.RejectTaskRequest{TaskGuid: inst.guid, RejectionReason: end.reason})
	}
	if err != nil {
		log.Info("cannot report the task's end", "err", err)
	}
}

func taskResult(failed bool) string {
	if failed {
		return "failed"
	}
	return "succeeded"
}

// recoverTask reattaches to the process of a task a previous rep started.
func (e *Executor) recoverTask(ctx context.Context, inst *instance, hasProcess bool) {
	log := e.taskLogger(inst)
	e.mu.Lock()
	run := inst.run
	e.mu.Unlock()
	logs := e.streamer(run, 0)
	defer logs.Close()
	var end taskEnd
	proc, err := e.attach(ctx, inst.guid, taskProcess, hasProcess, logs)
	switch {
	case ctx.Err() != nil:
		end = taskEnd{stopped: true}
	case err != nil:
		log.Info("the task's process is gone", "err", err)
		end = taskEnd{failed: true, reason: run.LogSource + ": process not found after the rep restarted"}
	default:
		log.Info("reattached")
		end = e.waitTask(ctx, inst, nil, proc, logs, log)
	}
	e.finishTask(inst, end, log)
}
