// Package executor is the rep's container engine, modelled on Diego's
// executor and the rep's operation processors: it holds the cell's
// reservations, claims instances and starts tasks in the BBS, creates
// their containers through runtime.Runtime, runs and health-checks them,
// reports their ends to the BBS, keeps its view in step with the BBS (bulk
// sync), recovers after a restart and evacuates a draining cell.
//
// # Usage
//
//	ex, err := executor.New(cfg, executor.Deps{Runtime: rt, BBS: bbs, Downloader: dl, ...})
//	err = ex.Recover(ctx)         // reattach to what a previous rep left
//	go ex.Run(ctx)                // bulk sync and container metrics loops
//	resp := ex.Perform(ctx, req)  // from the gRPC server; also State, StopLRPInstance, CancelTask
//	...
//	ex.Evacuate(drainCtx)         // on shutdown: hand instances over, then stop everything
//	ex.Close()                    // abandon whatever is left (nothing after Evacuate)
//
// # Containers and their states
//
// Every LRP instance and task is one container, named by its instance
// guid or task guid, with one goroutine that owns its lifecycle. Perform
// reserves its resources (State counts them at once) and starts that
// goroutine; the resources are free again when the goroutine returns,
// after the container was destroyed. The states are Diego's:
//
//	reserved ──claim / StartTask──▶ initializing ──create, run──▶ created ──healthy──▶ running
//	    │                               │                           │                     │
//	    └── refused: freed              └─────── failure, exit, stop, check failure ──────┴──▶ completed ──▶ (gone)
//
// An LRP instance is claimed (ClaimActualLRP; a refusal frees the
// reservation), its desired LRP fetched, its setup archives downloaded
// (package download), its container created with the LRP's limits and
// ports, and its app started as vcap with Cloud Foundry's environment
// (package appenv). The startup check runs every StartupInterval until it
// passes — then the instance is running and StartActualLRP reports its net
// info — or the start timeout passes: crashed, "Instance never healthy
// after …". Then the liveness check runs (a failure crashes it: "Instance
// became unhealthy: …") and the readiness check, whose changes report the
// instance routable or not with StartActualLRP again. When the app exits
// the instance crashes ("APP/PROC/WEB: Exited with status 137 (out of
// memory)").
//
// A task is started in the BBS (StartTask; should_start false or an error
// frees the reservation), run to its end, its result file read (the first
// MaxResultBytes) and its uploads PUT, and completed (CompleteTask). A
// container that cannot be created is rejected (RejectTask) instead, so
// that the task is placed elsewhere.
//
// What a container's end reports depends on why it ended (stopReason):
//
//	crash (exit, check, setup failure)  CrashActualLRP          (EvacuateCrashed while evacuating)
//	StopLRPInstance                     RemoveActualLRP         (EvacuateStopped while evacuating)
//	evacuation: not yet running         EvacuateClaimedActualLRP
//	evacuation: timed out               EvacuateStoppedActualLRP; tasks: CompleteTask failed
//	evacuation said not to keep it,
//	the BBS no longer has it, CancelTask nothing
//
// Stopping a process is SIGTERM, SIGKILL after GracePeriod, then
// destroying the container. Close abandons the goroutines without
// stopping or reporting anything, so that a restarted rep can Recover the
// containers: their labels (labels.go) carry the allocation and how to
// watch them.
//
// # Concurrency
//
// One mutex, Executor.mu, guards the map of instances and every
// instance's mutable fields. It is never held across a runtime, BBS or
// sink call, and there is no other lock in the package, so there is no
// lock order to keep. An instance's state, container and net info are only
// written by its own goroutine; others ask it to stop (requestStopLocked,
// which also cancels its context) and it reports its end.
package executor
