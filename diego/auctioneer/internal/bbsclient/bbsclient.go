// Package bbsclient makes the auctioneer's calls to the BBS. The
// connection is given every BBS address (rpc.ClientConfig.Addresses); only
// the active BBS listens, and gRPC uses whichever accepts. A call that
// finds no BBS serving (the connection is down, or the BBS answers
// UNAVAILABLE during a failover) is tried again after a backoff, a few
// times, within the caller's ctx.
//
// Errors the BBS returns on purpose (not found, invalid state transition)
// end the call at once. A Client is safe for concurrent use.
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

// Config configures a Client.
type Config struct {
	// RPC is the connection: Address or Addresses, and the TLS material.
	RPC rpc.ClientConfig
	// RequestTimeout bounds each try.
	RequestTimeout time.Duration
	// Attempts is how many tries a call makes.
	Attempts int
	// Backoff is the pause after the first try; it doubles after each.
	Backoff time.Duration
}

// Client calls the active BBS.
type Client struct {
	cfg  Config
	conn *grpc.ClientConn
	bbs  bbsv1.BBSServiceClient
}

// Dial returns a client. It does not connect; the first call does.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.Attempts = max(cfg.Attempts, 1)
	conn, err := rpc.Dial(ctx, cfg.RPC)
	if err != nil {
		return nil, fmt.Errorf("bbs client: %w", err)
	}
	return &Client{cfg: cfg, conn: conn, bbs: bbsv1.NewBBSServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// FailActualLRP records that the instance key could not be placed.
func (c *Client) FailActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, reason string) error {
	return c.call(ctx, "fail actual lrp", func(ctx context.Context) error {
		_, err := c.bbs.FailActualLRP(ctx, &bbsv1.FailActualLRPRequest{Key: key, ErrorMessage: reason})
		return err
	})
}

// FailTask records that the task could not be placed.
func (c *Client) FailTask(ctx context.Context, taskGUID, reason string) error {
	return c.call(ctx, "fail task", func(ctx context.Context) error {
		_, err := c.bbs.FailTask(ctx, &bbsv1.FailTaskRequest{TaskGuid: taskGUID, FailureReason: reason})
		return err
	})
}

// call runs f until a BBS serves it or the attempts are spent.
func (c *Client) call(ctx context.Context, op string, f func(context.Context) error) error {
	backoff := c.cfg.Backoff
	var err error
	for attempt := range c.cfg.Attempts {
		if attempt > 0 {
			if serr := sleep(ctx, backoff); serr != nil {
				return fmt.Errorf("bbs %s: %w (last error: %w)", op, serr, err)
			}
			backoff *= 2
		}
		if err = c.try(ctx, f); err == nil {
			return nil
		}
		if !retryable(ctx, err) {
			return fmt.Errorf("bbs %s: %w", op, err)
		}
	}
	return fmt.Errorf("bbs %s: no BBS served it in %d attempts: %w", op, c.cfg.Attempts, err)
}

func (c *Client) try(ctx context.Context, f func(context.Context) error) error {
	if c.cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
		defer cancel()
	}
	return f(ctx)
}

// retryable reports whether err means "no BBS served the call" (down,
// failing over, or too slow) while the caller still waits.
func retryable(ctx context.Context, err error) bool {
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
