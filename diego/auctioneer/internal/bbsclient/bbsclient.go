// Package bbsclient makes the auctioneer's calls to the BBS, over the shared
// retrying connection of internal/bbsclient: a call that finds no BBS
// serving (the connection is down, or the BBS answers UNAVAILABLE during a
// failover) is tried again after a backoff, a few times, within the
// caller's ctx. Errors the BBS returns on purpose (not found, invalid state
// transition) end the call at once. A Client is safe for concurrent use.
package bbsclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/bbsclient"
)

// Config configures a Client: the connection and its retries.
type Config = bbsclient.Config

// Client reports placement failures to the BBS.
type Client struct {
	conn *grpc.ClientConn
	bbs  bbsv1.BBSServiceClient
}

// Dial returns a Client. Like grpc.NewClient it does not connect: the first
// call does.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	conn, err := bbsclient.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, bbs: bbsv1.NewBBSServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// FailActualLRP reports that an instance could not be placed.
func (c *Client) FailActualLRP(ctx context.Context, key *bbsv1.ActualLRPKey, reason string) error {
	if _, err := c.bbs.FailActualLRP(ctx, &bbsv1.FailActualLRPRequest{Key: key, ErrorMessage: reason}); err != nil {
		return fmt.Errorf("bbs fail actual lrp: %w", err)
	}
	return nil
}

// FailTask reports that a task could not be placed.
func (c *Client) FailTask(ctx context.Context, taskGUID, reason string) error {
	if _, err := c.bbs.FailTask(ctx, &bbsv1.FailTaskRequest{TaskGuid: taskGUID, FailureReason: reason}); err != nil {
		return fmt.Errorf("bbs fail task: %w", err)
	}
	return nil
}
