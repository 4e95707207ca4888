// Package watcher keeps the route emitter's routing table in step with the
// BBS and publishes each change of the table's registrations.
//
// # Lifecycle
//
// Run holds one SubscribeToEvents stream at a time and applies its events
// (desired and actual LRP created, changed, removed) to the table,
// publishing the changes (router.unregister first, then router.register).
// A full sync lists every desired LRP's scheduling info and every actual
// LRP, replaces the table's state with the listing and publishes the
// difference, including the unregistration of routes that vanished while
// the emitter was not listening.
//
// A full sync happens whenever the stream starts with a Resync event: on
// the first subscription (which names an epoch no BBS has, so that the
// BBS answers with a Resync once the subscription exists: listing only
// after that point means no change can fall between the listing and the
// stream), after a failover to another BBS, or when the BBS no longer holds
// the events missed. A stream that breaks is resumed from the last epoch
// and sequence seen, with capped exponential backoff, and the BBS replays
// what was missed. A stream that is silent for longer than the idle timeout
// (the BBS sends heartbeats) is dropped and resumed. Full syncs also run
// every sync interval, as a safety net, like CF's route-emitter.
//
// Events queued while a listing runs are applied after it; events older
// than the listing are recognised by their modification tags (see package
// table).
//
// # Concurrency
//
// Run owns the stream; a reader goroutine only queues what it receives.
// The table serialises changes; the publisher orders them against full
// re-registrations (see registrar.Registrar.Publish).
package watcher
