// Package mbus is the gorouter's NATS side: it feeds router.register and
// router.unregister messages (see package api/router) into the route
// table, answers router.greet, announces the router with router.start, and
// prunes stale routes on a timer.
//
// # Usage
//
//	nc, err := natsconn.Connect(ctx, natsCfg, logger)
//	reg := registry.New(registry.Config{})
//	sub := mbus.New(mbus.Config{ID: routerID}, mbus.Deps{Conn: nc, Registry: reg, Logger: logger})
//	err = sub.Run(ctx) // returns nil once ctx is cancelled
//
// # Connection state
//
// natsconn.Connect owns the connection's event handlers (it logs every
// state change), so the Subscriber does not replace them. It registers a
// status listener with nats.Conn.StatusChanged instead and, because that
// listener drops events when its buffer is full, it also re-reads
// nats.Conn.Status every Config.StatusCheckInterval. While the status is anything but CONNECTED
// pruning is suspended (as in Cloud Foundry, the table is kept while NATS
// is down: the registrations that would refresh it cannot arrive). When
// the connection is back, pruning resumes and router.start is published
// again so that route emitters re-register at once.
//
// # Malformed messages
//
// A message that fails router.ParseRegistryMessage is dropped and counted
// in Stats; at most one log line per Config.MalformedLogInterval reports
// it, with the number dropped silently since the previous line.
package mbus
