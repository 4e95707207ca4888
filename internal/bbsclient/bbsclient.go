// Package bbsclient dials the BBS for its clients (the rep, the
// auctioneer; later the Cloud Controller and route emitter). The
// connection is given
// every BBS address (rpc.ClientConfig.Addresses); only the active BBS
// listens and gRPC uses whichever accepts. Every unary call goes through a
// retry interceptor: a call that finds no BBS serving it (the connection
// is down, the BBS answers UNAVAILABLE during a failover, or the try timed
// out) is tried again after a backoff, up to Attempts times, within the
// caller's ctx. Errors the BBS returns on purpose (not found, invalid state
// transition) end the call at once, unchanged, so callers can inspect them
// with bbsv1.ErrorTypeOf.
//
// Retrying is safe for the calls the rep and auctioneer make: claims,
// starts and evacuations repeat idempotently for the same instance key, a
// repeated crash, removal or completion fails with a typed error the caller
// ignores, and a repeated placement failure only rewrites the same error.
package bbsclient

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// Config configures the connection.
type Config struct {
	// RPC is the connection: Address or Addresses, and the TLS material.
	RPC rpc.ClientConfig
	// RequestTimeout bounds each try (none when 0).
	RequestTimeout time.Duration
	// Attempts is how many tries a call makes (at least 1).
	Attempts int
	// Backoff is the pause after the first try; it doubles after each.
	Backoff time.Duration
}

// Dial returns a connection to the BBS with the retry interceptor. It does
// not connect; the first call does.
func Dial(ctx context.Context, cfg Config) (*grpc.ClientConn, error) {
	cfg.Attempts = max(cfg.Attempts, 1)
	conn, err := rpc.Dial(ctx, cfg.RPC, grpc.WithChainUnaryInterceptor(retry(cfg)))
	if err != nil {
		return nil, fmt.Errorf("bbs client: %w", err)
	}
	return conn, nil
}

// retry is the unary interceptor.
func retry(cfg Config) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		backoff := cfg.Backoff
		var err error
		for attempt := range cfg.Attempts {
			if attempt > 0 {
				if serr := sleep(ctx, backoff); serr != nil {
					return err
				}
				backoff *= 2
			}
			err = try(ctx, cfg.RequestTimeout, func(ctx context.Context) error {
				return invoker(ctx, method, req, reply, cc, opts...)
			})
			if err == nil || !Retryable(ctx, err) {
				return err
			}
		}
		// The status stays inspectable (status.Code, bbsv1.ErrorTypeOf).
		return fmt.Errorf("no BBS served it in %d attempts: %w", cfg.Attempts, err)
	}
}

func try(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return f(ctx)
}

// Retryable reports whether err means that no BBS served the call (down,
// failing over, or too slow) while the caller still waits.
func Retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if bbsv1.IsErrorType(err, bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
