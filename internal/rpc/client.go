package rpc

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
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
	conn, err := grpc.NewClient(cfg.Address, append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                clientPingInterval,
			Timeout:             clientPingTimeout,
			PermitWithoutStream: true,
		}),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("rpc dial %s: %w", cfg.Address, err)
	}
	return conn, nil
}
