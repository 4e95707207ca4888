// Package registrar keeps routes registered with every gorouter over NATS,
// using Cloud Foundry's routing protocol (see api/router).
//
// A system daemon (cloud_controller, uaa, log-cache, blobstore) that should
// be reachable through the routers in the production shape runs a
// Registrar for its own endpoint and URIs; the route emitter runs one whose
// registrations come from its routing table ([Deps.Source]).
//
// # Lifecycle
//
// Run subscribes to router.start, sends router.greet (each router answers
// with its start message), publishes every registration at once and then
// again every interval, until ctx is cancelled. It also publishes them all
// at once whenever a router announces itself on router.start (a restarted
// router has an empty table) and when [Registrar.EmitNow] is called.
//
// The interval is Config.Interval until a router announces a
// minimumRegisterIntervalInSeconds; from then on it is the smallest
// interval the routers seen have announced (each router's latest), as CF's
// emitters follow the router's interval, so that no router prunes a route
// between two registrations.
//
// With a static registration (no Source), Run publishes router.unregister
// for it when ctx is cancelled, so routers stop sending traffic to a
// daemon that is going away. With a Source it does not: the route
// emitter's instances outlive the emitter.
//
// # Concurrency
//
// Run may be called once. EmitNow and Ready are safe for concurrent use.
// NATS callbacks only signal Run's loop, which does all publishing.
//
//	r, err := registrar.New(cfg.Registrar, registrar.Deps{Conn: nc, Logger: logger})
//	if err != nil {
//		return err
//	}
//	g.Go(func() error { return r.Run(ctx) })
package registrar
