package bbsclient

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// flaky answers GetDesiredLRP with UNAVAILABLE for the first failures
// calls, then with err (nil: success).
type flaky struct {
	bbsv1.UnimplementedBBSServiceServer
	failures int64
	err      error
	calls    atomic.Int64
}

func (f *flaky) GetDesiredLRP(context.Context, *bbsv1.GetDesiredLRPRequest) (*bbsv1.GetDesiredLRPResponse, error) {
	if f.calls.Add(1) <= f.failures {
		return nil, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, "not the active bbs")
	}
	if f.err != nil {
		return nil, f.err
	}
	return &bbsv1.GetDesiredLRPResponse{DesiredLrp: &bbsv1.DesiredLRP{ProcessGuid: "web"}}, nil
}

func TestRetries(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "rep")
	tests := []struct {
		name      string
		bbs       *flaky
		attempts  int
		wantType  bbsv1.ErrorType
		wantErr   bool
		wantCalls int64
	}{
		{"succeeds after failovers", &flaky{failures: 2}, 3, 0, false, 3},
		{"gives up", &flaky{failures: 5}, 3, bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, true, 3},
		{"typed errors are not retried", &flaky{err: bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, "gone")}, 3,
			bbsv1.ErrorType_ERROR_TYPE_RESOURCE_NOT_FOUND, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := rpc.NewServer(rpc.ServerConfig{Listen: "127.0.0.1:0", CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, ShutdownTimeout: time.Second}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			bbsv1.RegisterBBSServiceServer(srv.GRPC(), tt.bbs)
			testenv.Start(t, srv)
			conn, err := Dial(context.Background(), Config{
				// The first address is a passive BBS: nothing listens.
				RPC:            rpc.ClientConfig{Addresses: []string{"127.0.0.1:1", srv.Addr().String()}, CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
				RequestTimeout: 5 * time.Second, Attempts: tt.attempts, Backoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			resp, err := bbsv1.NewBBSServiceClient(conn).GetDesiredLRP(context.Background(), &bbsv1.GetDesiredLRPRequest{ProcessGuid: "web"})
			if (err != nil) != tt.wantErr || bbsv1.ErrorTypeOf(err) != tt.wantType {
				t.Fatalf("err = %v (type %v), want error %v of type %v", err, bbsv1.ErrorTypeOf(err), tt.wantErr, tt.wantType)
			}
			if err == nil && resp.GetDesiredLrp().GetProcessGuid() != "web" {
				t.Errorf("resp = %v", resp)
			}
			if got := tt.bbs.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestCallerContextEndsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Retryable(ctx, bbsv1.NewError(bbsv1.ErrorType_ERROR_TYPE_UNAVAILABLE, "x")) {
		t.Error("retryable after the caller gave up")
	}
}
