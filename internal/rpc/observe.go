package rpc

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// observeUnary records one metrics sample and one log line per unary RPC.
func (s *Server) observeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	s.observe(ctx, info.FullMethod, start, err)
	return resp, err
}

// observeStream records one metrics sample and one log line per stream,
// when it ends.
func (s *Server) observeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	s.observe(ss.Context(), info.FullMethod, start, err)
	return err
}

func (s *Server) observe(ctx context.Context, fullMethod string, start time.Time, err error) {
	elapsed := time.Since(start)
	code := status.Code(err)
	if s.metrics != nil {
		service, method := splitMethod(fullMethod)
		s.metrics.handled.WithLabelValues(service, method, code.String()).Inc()
		s.metrics.duration.WithLabelValues(service, method).Observe(elapsed.Seconds())
	}
	level := slog.LevelDebug
	switch code {
	case codes.OK:
	case codes.Unknown, codes.Internal, codes.DataLoss:
		level = slog.LevelError // server-side faults
	default:
		level = slog.LevelInfo // the caller's problem or an expected condition
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", fullMethod),
		slog.String("code", code.String()),
		slog.Duration("duration", elapsed),
	}
	if cn, ok := PeerCommonName(ctx); ok {
		attrs = append(attrs, slog.String("peer", cn))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", status.Convert(err).Message()))
	}
	s.logger.LogAttrs(ctx, level, "rpc", attrs...)
}
