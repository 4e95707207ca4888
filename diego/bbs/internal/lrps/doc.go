// Package lrps is the BBS's store of long-running processes: desired LRPs,
// their actual instances, domains, and LRP convergence, in Postgres (tables
// in diego/bbs/internal/db/migrations/00001_lrps.sql). It follows Cloud
// Foundry Diego's BBS (db/sqldb and the LRP controllers) with the
// controllers' decisions moved into the store, so that each one is a single
// transaction.
//
// # Usage
//
// The BBS server calls one method per request and acts on the
// [models.Result] it returns only after the method returned without error,
// so nothing is announced for a change that was rolled back:
//
//	res, err := store.ClaimActualLRP(ctx, guid, index, ik)
//	if err != nil {
//		return nil, err // typed bbsv1 errors pass through as they are
//	}
//	hub.Publish(res.Events...)
//	auctioneer.RequestLRPAuctions(ctx, res.LRPAuctions)
//	for _, st := range res.Stops { /* ask st.InstanceKey.CellId's rep */ }
//
// The active BBS runs [Store.Converge] periodically (Diego: every 30 s) with
// the cells its registry sees, and acts on the Result the same way.
//
// # Errors
//
// Caller-visible failures are bbsv1.NewError statuses: RESOURCE_NOT_FOUND,
// RESOURCE_EXISTS, RESOURCE_CONFLICT (a stale expected modification tag),
// INVALID_REQUEST, INVALID_STATE_TRANSITION. Refused LRP transitions are
// all INVALID_STATE_TRANSITION (Diego's ActualLRPCannotBe* errors);
// RUNNING_ON_DIFFERENT_CELL is only used for tasks, as in Diego. Database
// failures are plain errors wrapped with %w.
//
// # Records
//
// A slot is one index of one process guid. It holds up to three records,
// one per presence (the primary key is process guid, index, presence):
//
//   - ORDINARY: the instance the platform wants, in one of the states below;
//   - EVACUATING: a RUNNING container on a draining cell, kept until the
//     ordinary replacement runs;
//   - SUSPECT: a RUNNING instance whose cell vanished from the registry,
//     kept (it may still serve traffic) while a replacement is placed.
//
// The ordinary record's states (models.AllowsTransition is the table for
// claim and start):
//
//	            claim            start
//	UNCLAIMED --------> CLAIMED --------> RUNNING
//	    ^  ^               |                 |
//	    |  |   crash, restart now            |
//	    |  +---------------+-----------------+
//	    |                  | crash, wait     |
//	    |  converge        v                 v
//	    +--------------- CRASHED <-----------+
//
// Only the container that holds a CLAIMED or RUNNING instance (same
// instance key) may crash it; the restart policy then makes it UNCLAIMED at
// once (crashes 1-3) or CRASHED until convergence finds its backoff over.
// Crashing clears the instance key, net info and routable; the crash count
// survives until an instance that ran for five minutes crashes again.
// Claims, starts and crashes from a SUSPECT record's container are ignored
// (claim, start) or remove that record (crash).
//
// Every record carries a modification tag: a new record gets a new epoch
// and index 0, and every change increments the index. Events carry the
// records before and after the change.
//
// # Transactions and locks
//
// Every method is one read-committed transaction. A method that changes a
// slot first locks all its records (SELECT … FOR UPDATE, ordered by
// presence), decides from what it read, and writes; a record it must create
// is inserted with ON CONFLICT DO NOTHING, and if another transaction won
// the race the slot is read and decided again. Desired LRP updates compare
// the expected modification tag with the row locked FOR UPDATE. Locks are
// always taken in (process guid, index, presence) order, after the desired
// row when one is locked, so transactions do not deadlock.
//
// # Convergence
//
// One pass reads every desired LRP's scheduling columns and every actual
// record in one repeatable-read snapshot (two queries; the large run_info
// column is never read), plans in memory, and applies only the changes, in
// batches (unnest arrays) in one transaction that first locks the records it
// will touch and drops any change whose record's modification tag moved
// since the snapshot (counted in ConvergeStats.Skipped; the next pass
// retries). Passes are serialised by a mutex; only the active BBS converges.
// The rules, per slot:
//
//   - an EVACUATING record whose cell is not present is removed;
//   - a SUSPECT record is removed when its slot is not wanted (LRP not
//     desired or index ≥ instances, in a fresh domain) or when its ordinary
//     replacement is RUNNING; its container is stopped if its cell is
//     present. If its cell is present again and the replacement is not
//     RUNNING, the suspect becomes the ordinary record again and the
//     replacement is removed (and stopped when CLAIMED);
//   - a wanted index without an ordinary record gets a new UNCLAIMED one and
//     an auction (Missing);
//   - an ordinary record that is not wanted is retired (Extra), but only if
//     its domain is fresh (Diego's rule: without a fresh domain the desired
//     state may be incomplete): UNCLAIMED and CRASHED records, and CLAIMED or
//     RUNNING ones on cells that are not present, are deleted; CLAIMED and
//     RUNNING ones on present cells are returned as Stops;
//   - a RUNNING ordinary instance on a cell that is not present becomes
//     SUSPECT and a new UNCLAIMED ordinary record is created and auctioned;
//     a CLAIMED one becomes UNCLAIMED and is auctioned (Rescheduled);
//   - a CRASHED instance whose backoff is over becomes UNCLAIMED (crash count
//     kept) and is auctioned (Restarted);
//   - an UNCLAIMED instance older than StaleUnclaimedTimeout is auctioned
//     again without changing its record, so since keeps its meaning and the
//     request repeats every pass until it is placed, as in Diego
//     (StaleUnclaimed).
//
// Auctions of one pass are merged into one start request per process guid.
// Expired domains are deleted at the start of a pass.
package lrps
