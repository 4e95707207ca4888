package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/diego/rep/internal/appenv"
	"github.com/anvilpaas/anvil/diego/rep/internal/healthcheck"
	"github.com/anvilpaas/anvil/diego/rep/internal/logstream"
	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// Diego's health check messages.
const (
	neverHealthy     = "Instance never healthy after %s: %s"
	becameUnhealthy  = "Instance became unhealthy: %s"
	defaultRunAsUser = "vcap"
)

// lrpEnd is how an LRP container ended, which decides the report.
type lrpEnd struct {
	// crash, when set, is the crash reason.
	crash string
	// remove: the instance could not be run at all (its desired LRP is
	// gone): remove its record.
	remove bool
	// otherwise it was stopped (inst.stop says why) or abandoned.
}

func (e *Executor) lrpLogger(inst *instance) *slog.Logger {
	return e.logger.With("process_guid", inst.key.GetProcessGuid(), "index", inst.key.GetIndex(), "instance_guid", inst.guid)
}

// runLRP claims an instance Perform reserved, creates its container, runs
// and monitors it, and reports its end.
func (e *Executor) runLRP(ctx context.Context, inst *instance) {
	log := e.lrpLogger(inst)
	_, err := e.bbs.ClaimActualLRP(ctx, &bbsv1.ClaimActualLRPRequest{
		ProcessGuid: inst.key.GetProcessGuid(), Index: inst.key.GetIndex(), InstanceKey: inst.ik,
	})
	if err != nil {
		log.Info("claim refused; freeing the reservation", "err", err)
		return
	}
	e.mu.Lock()
	inst.claimed, inst.claimedAt, inst.state = true, e.clock.Now(), stateInitializing
	e.mu.Unlock()
	log.Info("claimed")
	end := e.startLRP(ctx, inst, log)
	e.finishLRP(inst, end, log)
}

// startLRP fetches the desired LRP, creates the container, starts the app
// and monitors it until it ends.
func (e *Executor) startLRP(ctx context.Context, inst *instance, log *slog.Logger) lrpEnd {
	resp, err := e.bbs.GetDesiredLRP(ctx, &bbsv1.GetDesiredLRPRequest{ProcessGuid: inst.key.GetProcessGuid()})
	if ctx.Err() != nil {
		return lrpEnd{}
	}
	if err != nil {
		log.Warn("cannot fetch the desired lrp; removing the instance", "err", err)
		return lrpEnd{remove: true}
	}
	lrp := resp.GetDesiredLrp()
	run := lrpRunInfo(lrp)
	e.mu.Lock()
	inst.run = run
	e.mu.Unlock()
	logs := e.streamer(run, inst.key.GetIndex())
	defer logs.Close()

	stack, ok := e.stackOf(lrp.GetRootFs())
	switch {
	case lrp.GetPrivileged():
		return lrpEnd{crash: reasonPrivileged}
	case !ok:
		return lrpEnd{crash: reasonRootFS}
	}
	maxPids := int64(lrp.GetMaxPids())
	if maxPids == 0 {
		maxPids = int64(lrp.GetAction().GetResourceLimits().GetPids())
	}
	ctr, err := e.create(ctx, inst, createSpec{
		spec: runtime.ContainerSpec{
			ID:          inst.guid,
			Stack:       stack,
			Labels:      encodeLabels(identity{kind: kindLRP, guid: inst.guid, key: inst.key, memoryMB: inst.memoryMB, diskMB: inst.diskMB, run: run}),
			MemoryBytes: int64(lrp.GetMemoryMb()) << 20,
			DiskBytes:   int64(lrp.GetDiskMb()) << 20,
			CPUWeight:   lrp.GetCpuWeight(),
			MaxPids:     maxPids,
			Ports:       lrp.GetPorts(),
		},
		setup: lrp.GetSetup(),
	}, logs, log)
	if end, done := createEnd(err, log); done {
		return end
	}

	action := lrp.GetAction()
	user := action.GetUser()
	if user == "" {
		user = defaultRunAsUser
	}
	proc, err := e.rt.Run(ctx, inst.guid, runtime.ProcessSpec{
		ID:     appProcess,
		Args:   append([]string{action.GetPath()}, action.GetArgs()...),
		Env:    appenv.LRP(lrp, inst.key.GetIndex(), inst.guid, appenv.Net{HostIP: ctr.HostIP, IP: ctr.IP, Ports: ctr.Ports}),
		Dir:    action.GetDir(),
		User:   user,
		NoFile: action.GetResourceLimits().GetNofile(),
		Stdout: logs.Stdout(),
		Stderr: logs.Stderr(),
	})
	if ctx.Err() != nil {
		return lrpEnd{}
	}
	if err != nil {
		log.Warn("cannot start the app", "err", err)
		return lrpEnd{crash: run.LogSource + ": failed to start the process"}
	}
	return e.monitor(ctx, inst, proc, logs, log)
}

// createEnd turns create's error into the instance's end; done is false
// when the container was created.
func createEnd(err error, log *slog.Logger) (lrpEnd, bool) {
	var f *failure
	switch {
	case err == nil:
		return lrpEnd{}, false
	case errors.As(err, &f):
		log.Warn("container setup failed", "reason", f.reason, "err", f.err)
		return lrpEnd{crash: f.reason}, true
	}
	return lrpEnd{}, true // stopped
}

// lrpRunInfo is what the executor keeps of a desired LRP to run it.
func lrpRunInfo(lrp *bbsv1.DesiredLRP) runInfo {
	source := lrp.GetAction().GetLogSource()
	if source == "" {
		source = defaultLRPSource
	}
	hc := lrp.GetHealthCheck()
	return runInfo{
		LogGUID:        lrp.GetLogGuid(),
		LogSource:      source,
		LogRateLimit:   lrp.GetLogRateLimitBytesPerSecond(),
		SuppressLogs:   lrp.GetAction().GetSuppressLogOutput(),
		MetricTags:     lrp.GetMetricTags(),
		Check:          checkOf(hc.GetCheck(), lrp.GetPorts()),
		Readiness:      checkOf(hc.GetReadiness(), lrp.GetPorts()),
		StartTimeoutMs: hc.GetStartTimeoutMs(),
		Ports:          lrp.GetPorts(),
	}
}

// checkOf resolves a check's port to an index into the LRP's ports. A
// port or HTTP check without a port to check becomes no check.
func checkOf(c *bbsv1.Check, ports []uint32) *checkInfo {
	t := c.GetType()
	if t != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT && t != bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_HTTP {
		return nil
	}
	idx := -1
	if c.GetPort() == 0 && len(ports) > 0 {
		idx = 0
	}
	for i, p := range ports {
		if p == c.GetPort() {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil
	}
	return &checkInfo{Type: t, PortIndex: idx, Endpoint: c.GetEndpoint(), TimeoutMs: c.GetTimeoutMs(), IntervalMs: c.GetIntervalMs()}
}

// monitor watches a started app: the startup check until it passes (then
// the instance is started in the BBS), then liveness and readiness, until
// the process exits, a check fails or the instance is stopped.
func (e *Executor) monitor(ctx context.Context, inst *instance, proc runtime.Process, logs *logstream.Streamer, log *slog.Logger) lrpEnd {
	e.mu.Lock()
	if inst.state < stateCreated {
		inst.state = stateCreated
	}
	run, ctr := inst.run, inst.ctr
	e.mu.Unlock()
	exited := e.watch(proc)
	stop := func() lrpEnd {
		if e.base.Err() == nil {
			logs.System(sourceCell, logstream.Stdout, fmt.Sprintf("Cell %s stopping instance %s", e.cfg.CellID, inst.guid))
			e.stopProcess(proc, exited, log)
		}
		return lrpEnd{}
	}
	exit := func(r waitResult) lrpEnd {
		e.mu.Lock()
		stopped := inst.stop != stopNone
		e.mu.Unlock()
		if e.base.Err() != nil || stopped {
			return lrpEnd{} // it exited as it was being stopped
		}
		if r.err != nil {
			log.Warn("lost the app process", "err", r.err)
			return lrpEnd{crash: run.LogSource + ": process lost: " + r.err.Error()}
		}
		logs.Flush()
		logs.System(run.LogSource, logstream.Stdout, exitMessage(r.status))
		log.Info("app exited", "status", r.status.Code, "oom", r.status.OOMKilled)
		return lrpEnd{crash: exitReason(run.LogSource, r.status)}
	}

	// Startup.
	startTimeout := e.cfg.StartTimeout
	if ms := run.StartTimeoutMs; ms > 0 {
		startTimeout = time.Duration(ms) * time.Millisecond
	}
	startup := make(chan error, 1)
	if run.Check != nil {
		logs.System(sourceCell, logstream.Stdout, "Starting health monitoring of container")
		go func() { startup <- e.startupCheck(ctx, ctr, run.Check, startTimeout) }()
	} else {
		startup <- nil
	}
	select {
	case r := <-exited:
		return exit(r)
	case <-inst.stopping():
		return stop()
	case err := <-startup:
		if ctx.Err() != nil {
			return stop()
		}
		if err != nil {
			e.metrics.healthFailures.WithLabelValues("startup").Inc()
			logs.System(sourceCell, logstream.Stderr, fmt.Sprintf("Failed after %s: startup health check never passed.", startTimeout))
			return lrpEnd{crash: fmt.Sprintf(neverHealthy, startTimeout, err)}
		}
	}

	// Healthy: running.
	logs.System(sourceCell, logstream.Stdout, "Container became healthy")
	e.mu.Lock()
	inst.state = stateRunning
	inst.routable = run.Readiness == nil
	inst.netInfo = netInfoOf(ctr, inst.run.Ports)
	e.mu.Unlock()
	if refused := e.startInBBS(ctx, inst, log); refused {
		e.mu.Lock()
		inst.requestStopLocked(stopSilent)
		e.mu.Unlock()
		return stop()
	}

	var live <-chan time.Time
	if run.Check != nil {
		t := time.NewTicker(interval(run.Check, e.cfg.LivenessInterval))
		defer t.Stop()
		live = t.C
	}
	ready := make(chan bool)
	if run.Readiness != nil {
		go e.readiness(ctx, ctr, run.Readiness, ready)
	}
	for {
		select {
		case r := <-exited:
			return exit(r)
		case <-inst.stopping():
			return stop()
		case <-live:
			if err := e.probe(ctx, ctr, run.Check); err != nil {
				if ctx.Err() != nil {
					return stop()
				}
				e.metrics.healthFailures.WithLabelValues("liveness").Inc()
				logs.System(sourceCell, logstream.Stderr, "Container became unhealthy")
				return lrpEnd{crash: fmt.Sprintf(becameUnhealthy, err)}
			}
		case ok := <-ready:
			e.mu.Lock()
			changed := inst.routable != ok
			inst.routable = ok
			e.mu.Unlock()
			if !changed {
				continue
			}
			if !ok {
				e.metrics.healthFailures.WithLabelValues("readiness").Inc()
			}
			log.Info("readiness changed", "routable", ok)
			if refused := e.startInBBS(ctx, inst, log); refused {
				e.mu.Lock()
				inst.requestStopLocked(stopSilent)
				e.mu.Unlock()
				return stop()
			}
		}
	}
}

// startInBBS reports the running instance (again) with its net info and
// routability. refused is true when the BBS will not have it running here
// (another instance holds the slot): the container must go.
func (e *Executor) startInBBS(ctx context.Context, inst *instance, log *slog.Logger) (refused bool) {
	e.mu.Lock()
	req := &bbsv1.StartActualLRPRequest{
		Key: inst.key, InstanceKey: inst.ik, NetInfo: inst.netInfo, Routable: inst.routable, AvailabilityZone: e.cfg.Zone,
	}
	evacuating := e.evacuating
	e.mu.Unlock()
	if evacuating {
		// The evacuation rounds report it (EvacuateRunningActualLRP).
		return false
	}
	_, err := e.bbs.StartActualLRP(ctx, req)
	switch {
	case err == nil:
		log.Info("started", "routable", req.Routable)
		return false
	case bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_INVALID_STATE_TRANSITION):
		log.Info("the bbs refused the start; stopping the instance", "err", err)
		return true
	}
	if ctx.Err() == nil {
		log.Warn("cannot report the start; the bulk sync will retry", "err", err)
	}
	return false
}

// startupCheck probes until the check passes or timeout passes, and then
// returns the last failure.
func (e *Executor) startupCheck(ctx context.Context, ctr *runtime.Container, c *checkInfo, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := e.probe(ctx, ctr, c)
		if err == nil || ctx.Err() != nil {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		if !wait(ctx, min(e.cfg.StartupInterval, left)) {
			return ctx.Err()
		}
	}
}

// readiness probes the readiness check until ctx ends, sending each
// result (the monitor acts on changes; the instance starts unroutable).
// Until the first pass it probes every StartupInterval, then every
// check interval.
func (e *Executor) readiness(ctx context.Context, ctr *runtime.Container, c *checkInfo, out chan<- bool) {
	every := interval(c, e.cfg.LivenessInterval)
	pause := min(e.cfg.StartupInterval, every)
	for {
		ok := e.probe(ctx, ctr, c) == nil
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- ok:
		case <-ctx.Done():
			return
		}
		if ok {
			pause = every
		}
		if !wait(ctx, pause) {
			return
		}
	}
}

func interval(c *checkInfo, def time.Duration) time.Duration {
	if c.IntervalMs > 0 {
		return time.Duration(c.IntervalMs) * time.Millisecond
	}
	return def
}

// probe runs one attempt of a check against the container.
func (e *Executor) probe(ctx context.Context, ctr *runtime.Container, c *checkInfo) error {
	if c.PortIndex >= len(ctr.Ports) {
		return fmt.Errorf("no port %d in the container's port mappings", c.PortIndex)
	}
	m := ctr.Ports[c.PortIndex]
	return healthcheck.Probe{
		Type:     c.Type,
		Addr:     probeAddr(ctr, m),
		Port:     m.ContainerPort,
		Endpoint: c.Endpoint,
		Timeout:  time.Duration(c.TimeoutMs) * time.Millisecond,
	}.Run(ctx)
}

// probeAddr is where the cell reaches a container port: the container's
// own address when it has one (bridge networking), else the host port on
// the cell's address.
func probeAddr(ctr *runtime.Container, m runtime.PortMapping) string {
	if ctr.IP != "" && ctr.IP != ctr.HostIP {
		return joinHostPort(ctr.IP, m.ContainerPort)
	}
	port := m.HostPort
	if port == 0 {
		port = m.ContainerPort
	}
	return joinHostPort(ctr.HostIP, port)
}

// netInfoOf is the BBS net info of a container. Its container ports are
// the desired ones, in order, as Diego reports them (routes and the route
// emitter name those), even when host networking made the process listen
// on the host port itself.
func netInfoOf(ctr *runtime.Container, desired []uint32) *bbsv1.ActualLRPNetInfo {
	n := &bbsv1.ActualLRPNetInfo{Address: ctr.HostIP, InstanceAddress: ctr.IP, PreferredAddress: "HOST"}
	for i, p := range ctr.Ports {
		cp := p.ContainerPort
		if i < len(desired) && desired[i] != 0 {
			cp = desired[i]
		}
		n.Ports = append(n.Ports, &bbsv1.PortMapping{ContainerPort: cp, HostPort: p.HostPort})
	}
	return n
}

// finishLRP destroys the container and tells the BBS how the instance
// ended, unless the executor was closed (then both stay as they are, for
// the next rep to recover).
func (e *Executor) finishLRP(inst *instance, end lrpEnd, log *slog.Logger) {
	if e.base.Err() != nil {
		return
	}
	e.mu.Lock()
	wasRunning := inst.state == stateRunning
	inst.state = stateCompleted
	reason, evacuating := inst.stop, e.evacuating
	e.mu.Unlock()
	e.destroy(inst, log)

	ctx, cancel := e.reportCtx()
	defer cancel()
	key, ik := inst.key, inst.ik
	var err error
	switch {
	case end.crash != "":
		e.metrics.crashes.Inc()
		log.Info("instance crashed", "reason", end.crash)
		if evacuating {
			_, err = e.bbs.EvacuateCrashedActualLRP(ctx, &bbsv1.EvacuateCrashedActualLRPRequest{Key: key, InstanceKey: ik, ErrorMessage: end.crash})
		} else {
			_, err = e.bbs.CrashActualLRP(ctx, &bbsv1.CrashActualLRPRequest{Key: key, InstanceKey: ik, ErrorMessage: end.crash})
		}
	case end.remove, reason == stopRemove && !evacuating:
		_, err = e.bbs.RemoveActualLRP(ctx, &bbsv1.RemoveActualLRPRequest{ProcessGuid: key.GetProcessGuid(), Index: key.GetIndex(), InstanceKey: ik})
	case reason == stopRemove, reason == stopEvacuated && wasRunning:
		_, err = e.bbs.EvacuateStoppedActualLRP(ctx, &bbsv1.EvacuateStoppedActualLRPRequest{Key: key, InstanceKey: ik})
	case reason == stopEvacuated:
		_, err = e.bbs.EvacuateClaimedActualLRP(ctx, &bbsv1.EvacuateClaimedActualLRPRequest{Key: key, InstanceKey: ik})
	}
	if err != nil {
		log.Info("cannot report the instance's end", "err", err)
	}
}

// recoverLRP reattaches to the app of a container a previous rep created
// and monitors it like a new one (the startup check runs again, and the
// start is reported again, which the BBS takes as a no-op).
func (e *Executor) recoverLRP(ctx context.Context, inst *instance, hasApp bool) {
	log := e.lrpLogger(inst)
	e.mu.Lock()
	run := inst.run
	e.mu.Unlock()
	logs := e.streamer(run, inst.key.GetIndex())
	defer logs.Close()
	var end lrpEnd
	proc, err := e.attach(ctx, inst.guid, appProcess, hasApp, logs)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		log.Info("the app is gone", "err", err)
		end = lrpEnd{crash: run.LogSource + ": process not found after the rep restarted"}
	default:
		log.Info("reattached")
		end = e.monitor(ctx, inst, proc, logs, log)
	}
	e.finishLRP(inst, end, log)
}
