// Package diego tests the scheduler end to end: a real BBS (on a real
// Postgres) and a real auctioneer, with simulated cells that answer the rep
// API the way a rep does (reserve, claim, start) without running
// containers. The rep's own tests run real containers; these show
// placement, convergence and failover across the daemons, and hold the
// scheduler's benchmark.
package diego
