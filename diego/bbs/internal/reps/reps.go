// Package reps gives the BBS a gRPC client for any cell's rep: it looks the
// cell up in the registry and keeps one connection per rep address.
package reps

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	repv1 "github.com/anvilpaas/anvil/api/rep/v1"
)

// Registry finds cells (the cell registry).
type Registry interface {
	Cell(id string) (*bbsv1.CellPresence, bool)
}

// Dialer opens a connection to a rep address.
type Dialer func(ctx context.Context, address string) (*grpc.ClientConn, error)

// Pool hands out rep clients.
type Pool struct {
	registry Registry
	dial     Dialer

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// New returns a Pool.
func New(registry Registry, dial Dialer) *Pool {
	return &Pool{registry: registry, dial: dial, conns: make(map[string]*grpc.ClientConn)}
}

// Rep returns a client for cellID's rep, and false when the registry does
// not know the cell or its address cannot be dialled.
func (p *Pool) Rep(cellID string) (repv1.RepServiceClient, bool) {
	cell, ok := p.registry.Cell(cellID)
	if !ok || cell.GetRepAddress() == "" {
		return nil, false
	}
	conn, err := p.conn(cell.GetRepAddress())
	if err != nil {
		return nil, false
	}
	return repv1.NewRepServiceClient(conn), true
}

func (p *Pool) conn(address string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[address]; ok {
		return c, nil
	}
	// grpc.NewClient does not connect, so holding the lock is cheap.
	c, err := p.dial(context.Background(), address)
	if err != nil {
		return nil, fmt.Errorf("dial rep %s: %w", address, err)
	}
	p.conns[address] = c
	return c, nil
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		_ = c.Close()
		delete(p.conns, a)
	}
}
