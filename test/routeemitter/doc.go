// Package routeemitter tests the route emitter against a real BBS (on a
// real Postgres) and an embedded NATS, in one process: instances the BBS
// reports running are registered with the routers, unregistered when they
// stop being routable or go away, registered again when a router starts,
// and the table converges after the active BBS changes.
//
// It lives under test/ because it starts diego/bbs, which a component's
// own tests may not import (see test/arch).
package routeemitter
