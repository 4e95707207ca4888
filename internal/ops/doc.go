// Package ops is the operations listener every Anvil daemon runs.
//
// It serves, on its own address and its own mux (never http.DefaultServeMux):
//
//	/metrics         the component's Prometheus registry
//	/healthz         200 "ok" while the process is alive (liveness)
//	/readyz          200 when every readiness check passes, else 503 (readiness)
//	/debug/pprof/…   the net/http/pprof handlers
//
// Lifecycle: New builds the server; AddCheck registers readiness checks at any
// time; Run binds the listener, closes Ready, serves until ctx is cancelled
// and then shuts down within Config.ShutdownTimeout, returning nil. As soon
// as ctx is cancelled /readyz reports 503, so load balancers stop sending
// traffic while the daemon drains.
//
// Readiness: /readyz runs every check concurrently, each with its own
// Config.CheckTimeout. A check that returns an error or does not return in
// time fails, and the response body lists each check's result:
//
//	[+]db ok
//	[-]nats failed: nats: no servers available
//	readyz check failed
//
// Concurrent /readyz requests share one round of checks, and a check still
// running from an earlier round (one that ignores its ctx) is reported as
// failing instead of being started again, so probes stay cheap and the number
// of goroutines stays bounded however often they arrive.
//
// Usage:
//
//	reg := ops.NewRegistry()
//	srv := ops.New(cfg.Ops, logger, reg)
//	srv.AddCheck("db", db.Ping)
//	srv.AddCheck("grpc", ops.ReadyCheck(rpcServer.Ready()))
//	g.Go(func() error { return srv.Run(ctx) })
package ops
