// Package models holds the BBS's rules that need no storage: the actual LRP
// state machine, the crash restart policy, request validation, and Result,
// the description of what a state change must set off (events to publish,
// auctions to request, instances and tasks to stop, callbacks to deliver).
//
// # Actual LRP states
//
// An instance slot (process guid + index) moves through
//
//	UNCLAIMED --claim--> CLAIMED --start--> RUNNING
//	    ^                   |                  |
//	    +----- crash (immediate restart) ------+
//	    |                   v                  v
//	    +-- restart ----- CRASHED <-- crash ---+
//
// AllowsTransition is the complete table, following Diego: a cell may only
// move an instance it owns (same instance key, which is also how a crash is
// reported), and only the BBS itself (empty instance key) may unclaim.
//
// # Restart policy
//
// RestartPolicy says when a crashed instance may start again: immediately for
// the first three crashes, then after 30 s doubling per crash up to 16
// minutes, and never after 200 crashes. An instance that ran for five
// minutes before crashing starts counting again from one.
package models
