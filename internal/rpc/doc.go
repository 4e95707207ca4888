// Package rpc holds the gRPC plumbing for daemon-to-daemon calls over mutual
// TLS: a server with health checking, panic recovery, logging and metrics
// built in, and a client dialler with matching keepalives.
//
// Every connection is mutually authenticated: the server demands a client
// certificate signed by its CA file and the client verifies the server
// against its own CA file. Certificates come from files (ServerConfig.CertFile
// and friends, rendered by BOSH or written by `anvil dev up` with package
// pki) or, for tests and the dev launcher, from an in-memory *tls.Config.
//
// Lifecycle of a Server:
//
//	srv, err := rpc.NewServer(cfg.RPC, logger, reg)  // loads certificates
//	examplepb.RegisterExampleServer(srv.GRPC(), impl)  // register services
//	srv.Health().SetServingStatus("anvil.example.v1.Example", healthpb.HealthCheckResponse_SERVING)
//	err = srv.Run(ctx)                                 // blocks
//
// Run binds the listener, closes Ready, and serves until ctx is cancelled.
// It then marks every health status NOT_SERVING, stops accepting new RPCs
// and waits up to ShutdownTimeout for in-flight RPCs (GracefulStop) before
// closing the remaining connections (Stop), and returns nil.
//
// Interceptors, outermost first: observe (one metrics sample and one log
// line per RPC, with the caller's certificate common name), then recover
// (a panicking handler becomes codes.Internal, logged with its stack; the
// server keeps serving). Interceptors passed to NewServer with
// grpc.ChainUnaryInterceptor or grpc.ChainStreamInterceptor run inside these.
// A panic in a goroutine the handler starts is not recovered.
//
// A client watching health (Health/Watch) holds a stream open, so a server
// with watchers always waits the full ShutdownTimeout before Stop; the
// watchers see NOT_SERVING first.
//
// Errors become gRPC status codes only in handlers; this package does not
// translate errors other than panics.
package rpc
