// Package repclient calls the reps of many cells over mutual TLS with one
// client certificate, keeping one gRPC connection per rep address.
//
// Connections are made on first use and kept until Retain drops the
// address (its cell left the registry) or Close. A Pool is safe for
// concurrent use.
package repclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
	"github.com/anvilpaas/anvil/internal/rpc"
)

// errClosed is returned by calls after Close.
var errClosed = errors.New("rep client pool closed")

// Pool holds a connection per rep address.
type Pool struct {
	tls rpc.ClientConfig // Address is set per rep

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// New returns a pool dialling reps with cfg, whose Address is ignored.
// An empty cfg.ServerName means each rep's certificate must be valid for
// the host of its address.
func New(cfg rpc.ClientConfig) *Pool {
	cfg.Address = ""
	return &Pool{tls: cfg, conns: map[string]*grpc.ClientConn{}}
}

// State asks the rep at address for its cell's state.
func (p *Pool) State(ctx context.Context, address string) (*repv1.StateResponse, error) {
	c, err := p.client(ctx, address)
	if err != nil {
		return nil, err
	}
	resp, err := c.State(ctx, &repv1.StateRequest{})
	if err != nil {
		return nil, fmt.Errorf("rep %s: state: %w", address, err)
	}
	return resp, nil
}

// Perform hands work to the rep at address.
func (p *Pool) Perform(ctx context.Context, address string, req *repv1.PerformRequest) (*repv1.PerformResponse, error) {
	c, err := p.client(ctx, address)
	if err != nil {
		return nil, err
	}
	resp, err := c.Perform(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("rep %s: perform: %w", address, err)
	}
	return resp, nil
}

// Retain closes the connections to every address not in addresses.
func (p *Pool) Retain(addresses []string) {
	keep := make(map[string]bool, len(addresses))
	for _, a := range addresses {
		keep[a] = true
	}
	p.mu.Lock()
	var drop []*grpc.ClientConn
	for a, c := range p.conns {
		if !keep[a] {
			drop = append(drop, c)
			delete(p.conns, a)
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

// Close closes every connection. Calls after Close fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*grpc.ClientConn{}
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Len returns the number of open connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Pool) client(ctx context.Context, address string) (repv1.RepServiceClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	if c, ok := p.conns[address]; ok {
		return repv1.NewRepServiceClient(c), nil
	}
	cfg := p.tls
	cfg.Address = address
	c, err := rpc.Dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("rep %s: %w", address, err)
	}
	p.conns[address] = c
	return repv1.NewRepServiceClient(c), nil
}
