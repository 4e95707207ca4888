package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/download"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

const (
	// lifecycleMount is where Config.LifecycleDir appears in containers.
	lifecycleMount = "/tmp/lifecycle"
	// killWait bounds the wait for a process after SIGKILL.
	killWait = 5 * time.Second
	// reportTimeout bounds the BBS calls and runtime cleanup made when a
	// container ends, which no longer have a caller's ctx.
	reportTimeout = 30 * time.Second
	// sourceCell is the log source type of the rep's own messages.
	sourceCell = "CELL"
	// defaultLRPSource and defaultTaskSource are the log sources when a
	// RunAction names none (Diego's default is "LOG").
	defaultLRPSource  = "APP/PROC/WEB"
	defaultTaskSource = "LOG"
	// vcapID is the vcap user's uid and gid in the Cloud Foundry stacks.
	vcapID = 2000
)

// errStopped is how a step ends when its container was asked to stop.
var errStopped = errors.New("stopped")

// waitResult is how a process ended.
type waitResult struct {
	status runtime.ExitStatus
	err    error
}

// createSpec is a container to download for and create.
type createSpec struct {
	spec  runtime.ContainerSpec
	setup []*bbsv1.DownloadAction
}

// failure is a container that could not be set up: reason is for the
// user (a crash reason, a task's failure reason), err for the logs.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.reason + ": " + f.err.Error() }

// create downloads the setup archives and creates the container. It
// returns errStopped when ctx ended (the container was asked to stop), or
// a *failure.
func (e *Executor) create(ctx context.Context, inst *instance, cs createSpec, logs *logstream.Streamer, log *slog.Logger) (*runtime.Container, error) {
	var files []*download.File
	defer func() {
		for _, f := range files {
			f.Release()
		}
	}()
	for _, d := range cs.setup {
		f, err := e.fetch(ctx, d, logs)
		if ctx.Err() != nil {
			return nil, errStopped
		}
		if err != nil {
			if d.GetOptional() {
				log.Info("optional download failed", "artifact", d.GetArtifact(), "err", err)
				continue
			}
			return nil, &failure{reason: downloadFailed(d.GetArtifact()), err: err}
		}
		files = append(files, f)
		uid, gid, err := owner(d.GetUser())
		if err != nil {
			return nil, &failure{reason: downloadFailed(d.GetArtifact()), err: err}
		}
		cs.spec.Tarballs = append(cs.spec.Tarballs, runtime.Tarball{Path: f.Path, Destination: d.GetTo(), UID: uid, GID: gid})
	}
	if e.cfg.LifecycleDir != "" {
		cs.spec.Mounts = append(cs.spec.Mounts, runtime.Mount{Source: e.cfg.LifecycleDir, Destination: lifecycleMount, ReadOnly: true})
	}
	logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Cell %s creating container for %s %s", e.cfg.CellID, inst.kind.noun(), inst.guid))
	start := time.Now()
	ctr, err := e.rt.Create(ctx, cs.spec)
	if ctx.Err() != nil {
		return nil, errStopped
	}
	if err != nil {
		logs.System(sourceCell, logstream.Stderr, fmt.Sprintf("Cell %s failed to create container for %s %s", e.cfg.CellID, inst.kind.noun(), inst.guid))
		return nil, &failure{reason: "failed to create container", err: err}
	}
	log.Info("container created", "duration", time.Since(start))
	logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Cell %s successfully created container for %s %s", e.cfg.CellID, inst.kind.noun(), inst.guid))
	e.mu.Lock()
	inst.ctr = ctr
	e.mu.Unlock()
	return ctr, nil
}

func (k kind) noun() string {
	if k == kindTask {
		return "task"
	}
	return "instance"
}

// fetch downloads one setup archive, telling the app's log.
func (e *Executor) fetch(ctx context.Context, d *bbsv1.DownloadAction, logs *logstream.Streamer) (*download.File, error) {
	name := d.GetArtifact()
	if name != "" {
		logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Downloading %s...", name))
	}
	f, err := e.dl.Fetch(ctx, download.Request{
		URL: d.GetFrom(), ChecksumAlgorithm: d.GetChecksumAlgorithm(), ChecksumValue: d.GetChecksumValue(), CacheKey: d.GetCacheKey(),
	})
	if err != nil {
		e.metrics.downloadFailures.Inc()
		if !d.GetOptional() && ctx.Err() == nil {
			logs.System(sourceCell, logstream.Stderr, downloadFailed(name))
		}
		return nil, err
	}
	if f.Cached {
		e.metrics.downloads.WithLabelValues("hit").Inc()
	} else {
		e.metrics.downloads.WithLabelValues("miss").Inc()
	}
	if name != "" {
		logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Downloaded %s (%s)", name, byteSize(f.Size)))
	}
	return f, nil
}

// downloadFailed is Diego's emittable download error.
func downloadFailed(artifact string) string {
	if artifact == "" {
		return "Downloading failed"
	}
	return fmt.Sprintf("Downloading %s failed", artifact)
}

// owner returns the uid and gid files extracted for user get: vcap (the
// default), root, or "uid:gid".
func owner(user string) (uint32, uint32, error) {
	switch user {
	case "", "vcap":
		return vcapID, vcapID, nil
	case "root":
		return 0, 0, nil
	}
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("unknown user %q", user)
	}
	return uint32(uid), uint32(gid), nil
}

// byteSize formats n as Diego's bytefmt does ("12.3M").
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + string("KMGTPE"[exp])
}

// watch waits for proc in the background; the channel gets its end.
func (e *Executor) watch(proc runtime.Process) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		st, err := proc.Wait(e.base)
		ch <- waitResult{st, err}
	}()
	return ch
}

// stopProcess sends SIGTERM, then SIGKILL after the grace period, and
// waits for the process to end (at most killWait after SIGKILL).
func (e *Executor) stopProcess(proc runtime.Process, exited <-chan waitResult, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(e.base, e.cfg.GracePeriod+killWait+reportTimeout)
	defer cancel()
	if err := proc.Signal(ctx, syscall.SIGTERM); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		log.Warn("cannot signal process", "signal", "TERM", "err", err)
	}
	grace := time.NewTimer(e.cfg.GracePeriod)
	defer grace.Stop()
	select {
	case <-exited:
		return
	case <-e.base.Done():
		return
	case <-grace.C:
	}
	log.Info("process still running after the grace period; killing it", "grace_period", e.cfg.GracePeriod)
	if err := proc.Signal(ctx, syscall.SIGKILL); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		log.Warn("cannot signal process", "signal", "KILL", "err", err)
	}
	kill := time.NewTimer(killWait)
	defer kill.Stop()
	select {
	case <-exited:
	case <-e.base.Done():
	case <-kill.C:
		log.Warn("process did not exit after SIGKILL; destroying its container")
	}
}

// exitReason is Diego's crash or failure reason for a process's exit:
// "APP/PROC/WEB: Exited with status 137 (out of memory)".
func exitReason(source string, st runtime.ExitStatus) string {
	msg := fmt.Sprintf("%s: Exited with status %d", source, st.Code)
	if st.OOMKilled {
		msg += " (out of memory)"
	}
	return msg
}

// exitMessage is what Diego writes to the app's log when it exits.
func exitMessage(st runtime.ExitStatus) string {
	msg := fmt.Sprintf("Exit status %d", st.Code)
	if st.OOMKilled {
		msg += " (out of memory)"
	}
	return msg
}

// destroy removes inst's container, whatever state it is in.
func (e *Executor) destroy(inst *instance, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(e.base, reportTimeout)
	defer cancel()
	if err := e.rt.Destroy(ctx, inst.guid); err != nil {
		log.Warn("cannot destroy container; the bulk sync will retry", "err", err)
	}
}

// reportCtx is the context of the BBS calls made when a container ends.
func (e *Executor) reportCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.base, reportTimeout)
}

// streamer returns the log streamer of a container.
func (e *Executor) streamer(run runInfo, index int32) *logstream.Streamer {
	return logstream.New(e.base, logstream.Config{
		Source:    logstream.Source{AppID: run.LogGUID, SourceType: run.LogSource, InstanceIndex: index, Tags: run.MetricTags},
		RateLimit: run.LogRateLimit,
		Suppress:  run.SuppressLogs,
		Sink:      e.logs,
		Clock:     e.clock,
	})
}
