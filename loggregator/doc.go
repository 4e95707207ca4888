// Package loggregator is Anvil's logging daemon: Cloud Foundry's
// loggregator (the v2 envelope transport) and log-cache (the store the cf
// CLI reads) in one process.
//
// # Data flow
//
// Reps, routers, Cloud Controller and staging send loggregator v2
// envelopes (code.cloudfoundry.org/go-loggregator/v9/rpc/loggregator_v2)
// over the gRPC Ingress service (Sender, BatchSender, Send) with mutual
// TLS, usually through internal/logemitter. Each envelope goes into the
// store: per source_id (an app guid or a component name) a ring of the
// newest envelopes ordered by timestamp, under a global count and memory
// cap that evicts from the source holding the oldest data. The log-cache
// HTTP API (GET /api/v1/info, /api/v1/read/{source_id}, /api/v1/meta)
// answers from the store in log-cache's protojson shape.
//
// # Lifecycle
//
//	l, err := loggregator.New(cfg, loggregator.Deps{Logger: logger})
//	...
//	err = l.Run(ctx) // returns nil once ctx is cancelled and listeners stopped
//
// Ready is closed once the ingress, API and ops listeners are bound; the
// ops /readyz reports the same. Nothing is persisted: a restart starts
// with an empty store, as log-cache does.
//
// # Concurrency
//
// The store is safe for concurrent ingest and reads; see package
// loggregator/internal/store for its lock order. Each ingress stream is
// served by its own goroutine (gRPC's), storing synchronously, so a slow
// store pushes back on senders through gRPC flow control; senders'
// emitters then drop their oldest envelopes rather than block.
package loggregator
