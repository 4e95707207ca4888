// Package logemitter is the loggregator client Anvil's daemons use to send
// app logs, component logs and metrics to the loggregator daemon's v2
// Ingress (gRPC BatchSender over mutual TLS).
//
// # Usage
//
//	em, err := logemitter.New(cfg.Loggregator, logemitter.Deps{Logger: logger, Registerer: reg})
//	if err != nil {
//		return err
//	}
//	// run em.Run(ctx) beside the daemon's other units (runner.Group)
//	em.Log(logemitter.Log{
//		SourceID:   appGUID,
//		InstanceID: "0",
//		Message:    line,
//		Stderr:     false,
//		Tags:       logemitter.AppTags{AppID: appGUID, AppName: "web", ProcessType: "web"}.Map(logemitter.AppSourceType("web")),
//	})
//
// # Never blocking
//
// Emitting never blocks and never fails: an envelope goes into a bounded
// ring (a "diode", as CF's loggregator agent has) and a single goroutine,
// Run, takes batches from it and sends them. When the ring is full the
// oldest envelope is overwritten and counted in Dropped and in the
// logemitter_dropped_envelopes_total metric. A failed send reconnects with
// exponential backoff (100ms doubling to 5s, with jitter) and retries the
// batch once it has a new stream; envelopes arriving meanwhile wait in the
// ring. Before Run starts, envelopes wait in the ring too.
//
// # Disabled
//
// With no address configured the Emitter is disabled: every emit returns
// at once and Run just waits for ctx. Daemons therefore always build one.
//
// # Concurrency
//
// Emit methods are safe for concurrent use; the ring's mutex is held for a
// few pointer writes only, never for I/O. Run may be called once.
package logemitter
