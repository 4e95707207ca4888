// Package auction runs the auctioneer's auctions, one at a time: take a
// batch from the queue, ask every registered cell's rep for its state,
// place the batch (package placement), hand each cell its share with one
// Perform call, and deal with what did not work out.
//
// # One auction
//
//  1. Cells: the cell list comes from the registry (CellLister). Each rep
//     is asked for its State in parallel, bounded by Config.StateTimeout;
//     cells that do not answer, or answer for another cell id, sit this
//     auction out (auctioneer_cell_state_fetch_failures_total).
//  2. Placement: placement.Place decides every item's cell or failure.
//  3. Perform: one Perform per winning cell, in parallel, bounded by
//     Config.PerformTimeout.
//  4. Outcome: every item ends in one of the cases below.
//
// The cases:
//
//   - the cell took it: done (auctioneer_*_auctions_started_total);
//   - no cell could take it (root_fs, tags, resources): reported to the
//     BBS at once with FailActualLRP or FailTask and placement's reason;
//   - the cell refused it (PerformResponse.failed_*), the Perform call
//     failed, or no cell could be reached: the item goes back to the queue
//     with one more attempt, avoiding that cell, until it has had
//     Config.MaxRetries retries; then it is reported to the BBS with the
//     last reason. Diego's auction runner had the same rule (maxRetries =
//     5) until it left retries to BBS convergence.
//
// A Perform that fails as a whole (a timeout, say) may have reached the
// cell, so the retry can offer an instance that one cell has already
// claimed. The BBS settles it: a second ClaimActualLRP or StartTask for
// another cell fails, and that cell reports the work back as refused.
//
// Reports to the BBS run with bounded concurrency and are retried by the
// BBS client; a report that still fails is logged, and the BBS's own
// convergence requests the auction again later.
//
// # Lifecycle
//
// Run loops until ctx is cancelled and then returns nil. Work queued or in
// an auction at that moment is dropped: the BBS still has it as UNCLAIMED
// or PENDING and asks again. Nothing here is durable.
package auction
