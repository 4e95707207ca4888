package rpc

import (
	"context"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerCommonName returns the common name of the client certificate the
// caller of the RPC in ctx presented, for logging and per-daemon
// authorisation. ok is false if there is none.
func PeerCommonName(ctx context.Context) (name string, ok bool) {
	p, found := peer.FromContext(ctx)
	if !found {
		return "", false
	}
	info, isTLS := p.AuthInfo.(credentials.TLSInfo)
	if !isTLS || len(info.State.PeerCertificates) == 0 {
		return "", false
	}
	return info.State.PeerCertificates[0].Subject.CommonName, true
}
