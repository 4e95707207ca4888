package rpc

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Dial returns a client connection to cfg.Address over mutual TLS, with
// keepalives that the Servers of this package accept. Like grpc.NewClient it
// does not connect: the first RPC does, and a server that is down surfaces
// as codes.Unavailable on that RPC. ctx only bounds Dial itself (reading the
// certificate files); it is not retained. opts are appended to Dial's own.
func Dial(ctx context.Context, cfg ClientConfig, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rpc dial %s: %w", cfg.Address, err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rpc client config: %w", err)
	}
	tlsCfg, err := clientTLS(&cfg)
	if err != nil {
		return nil, fmt.Errorf("rpc dial %s: %w", cfg.Address, err)
	}
	target, resolverOpts := target(cfg)
	conn, err := grpc.NewClient(target, append(append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                clientPingInterval,
			Timeout:             clientPingTimeout,
			PermitWithoutStream: true,
		}),
	}, resolverOpts...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("rpc dial %s: %w", target, err)
	}
	return conn, nil
}

// target is the gRPC target for cfg: Address itself, or for Addresses a
// resolver of this connection's own that hands out the whole list, which
// gRPC's default pick_first policy tries in order. Each address keeps its
// host as the TLS server name, as a single Address would.
func target(cfg ClientConfig) (string, []grpc.DialOption) {
	if len(cfg.Addresses) == 0 {
		return cfg.Address, nil
	}
	r := manual.NewBuilderWithScheme("anvil-list")
	addrs := make([]resolver.Address, len(cfg.Addresses))
	for i, a := range cfg.Addresses {
		host, _, _ := net.SplitHostPort(a)
		addrs[i] = resolver.Address{Addr: a, ServerName: host}
		if cfg.ServerName != "" {
			addrs[i].ServerName = cfg.ServerName
		}
	}
	r.InitialState(resolver.State{Addresses: addrs})
	return r.Scheme() + ":///" + cfg.Addresses[0], []grpc.DialOption{grpc.WithResolvers(r)}
}
