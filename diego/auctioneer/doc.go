// Package auctioneer is Diego's auctioneer: it decides which cell runs each
// LRP instance and task. The BBS asks for placements over gRPC
// (api/auctioneer/v1, fire and forget); the auctioneer collects requests
// into batches, asks every cell's rep for its state (api/rep/v1 State),
// places the batch, hands each cell its share (Perform), and reports what
// it could not place to the BBS (FailActualLRP, FailTask).
//
// The exported surface is Config, Deps (with the CellLister it needs), New
// and the Auctioneer's Run, Ready and Addr. The daemon keeps nothing
// durable: everything it is asked to do is also recorded in the BBS, which
// asks again after a restart.
//
// # Lifecycle
//
// New validates the config, loads the certificates, registers the metrics
// and builds the gRPC and ops servers, connecting to nothing. Run dials the
// BBS (lazily, like all gRPC clients), starts the ops listener, the gRPC
// listener and the auction loop, and closes Ready once both listeners are
// bound. When ctx is cancelled the gRPC server stops gracefully (health
// turns NOT_SERVING, in-flight calls get rpc.shutdown_timeout), the
// auction in progress is abandoned, queued work is dropped, the
// connections to the BBS and the reps are closed, and Run returns nil.
//
// # Concurrency
//
// gRPC handlers only validate and add to the queue (internal/batch), under
// its mutex. One goroutine runs auctions, one at a time: it takes a batch
// when the batch window (auction.batch_window, flushed early at
// auction.batch_flush_size) closes, fans out State and Perform calls to the
// reps and failure reports to the BBS, and waits for them before the next
// auction. So two auctions never place on the same cell state.
//
// # Layout
//
//   - internal/server: the gRPC service, validation;
//   - internal/batch: the queue, batching, deduplication, retries first;
//   - internal/auction: one auction end to end, the loop, the metrics;
//   - internal/placement: the scheduler, pure (filters, scoring, Diego's
//     failure reasons), with the benchmark;
//   - internal/repclient: a connection per rep, one client certificate;
//   - internal/bbsclient: the BBS calls, with retries while no BBS serves.
//
// # Metrics
//
// Besides the rpc and Go runtime metrics: auctioneer_lrp_auctions_started_total,
// auctioneer_lrp_auctions_failed_total, auctioneer_task_auctions_started_total,
// auctioneer_task_auctions_failed_total, auctioneer_auction_retries_total,
// auctioneer_cell_state_fetch_failures_total,
// auctioneer_fetch_states_duration_seconds, auctioneer_auction_duration_seconds,
// auctioneer_auction_batch_size and auctioneer_queued_work.
package auctioneer
