// Package diego is the Cloud Controller's Diego sync: it keeps the BBS's
// desired LRPs in step with the started processes, reports their actual
// instances for /stats, and turns instance crashes into audit events.
//
// # What is desired
//
// Every process of a STARTED app with a current droplet is one desired LRP
// in domain "cf-apps" (see lrp.go for its contents). Its process_guid is
// "<process guid>-<version guid>", as Cloud Foundry names them: the version
// is a fresh random guid each time the process's run definition (droplet,
// command, memory, disk, log rate limit, health checks, ports, stack)
// changes or the process is started again, so such a change rolls to new
// instances instead of reusing the records of the old ones. The LRP's
// annotation holds a hash of the run definition and of the metric tags, so
// a later sync can tell "same version, update instances/routes/tags" from
// "new version". Environment variables and VCAP_APPLICATION are fixed when
// a version is desired and take effect at the next restart, as in CF.
//
// The one exception to "one version per process" is a rolling deployment
// (rollout.go): while one is ACTIVE for a web process, its new version
// (named by the deployment) grows as its instances run and the old one
// shrinks, one Roll step at a time.
//
// # Lifecycle and concurrency
//
// New builds a Syncer; Run(ctx) runs the reconciler (at start and every
// sync interval) and the BBS event subscription (crash events, and keeping
// the index of desired LRPs fresh) until ctx ends. Desire, Remove,
// StopInstance and Instances are safe for concurrent use by handlers while
// Run runs. The index (process guid → LRP process guids) is guarded by
// Syncer.mu; no other lock is held while it is.
//
// Several Cloud Controllers may run a Syncer against one BBS: desiring and
// removing are idempotent, and crash events get deterministic guids, so
// two subscribers record each crash once.
package diego
