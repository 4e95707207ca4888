// Package routeemitter is the route_emitter daemon: it turns Diego's
// running instances into Cloud Foundry router registrations, so that the
// gorouters send each app's routes to its instances.
//
// It follows the BBS (an event stream, with full listings when the BBS
// asks for one, on start, after a failover and every sync interval) into a
// routing table of routable instances (RUNNING, routable, with a host port
// for a cf-router route's container port), publishes router.register when
// an instance becomes routable or a route is added, and router.unregister
// when it stops being routable (the rep clears the flag before stopping an
// instance), is removed, or a route is taken away. Every registration is
// published again every register interval and whenever a router announces
// itself on router.start.
//
// Every emitter emits for every instance: there is no lock, and running two
// only duplicates registrations, which routers ignore.
//
// Lifecycle: New checks the configuration and loads the BBS client
// certificates; Run serves /metrics, /healthz and /readyz, connects to NATS
// (waiting for it), follows the BBS, and returns nil once ctx is cancelled.
// Ready is closed, and /readyz passes, after the first full sync.
package routeemitter
