package rpc

import (
	"context"
	"fmt"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recoverUnary turns a panic in a unary handler into codes.Internal.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(ctx, info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

// recoverStream turns a panic in a stream handler into codes.Internal.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	return handler(srv, ss)
}

// recovered logs a recovered panic with its stack and returns the status the
// caller gets. The panic value is not sent to the caller.
func (s *Server) recovered(ctx context.Context, method string, p any) error {
	if s.metrics != nil {
		s.metrics.panics.Inc()
	}
	s.logger.ErrorContext(ctx, "rpc handler panicked",
		"method", method,
		"panic", fmt.Sprint(p),
		"stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}
