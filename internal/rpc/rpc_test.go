package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/anvilpaas/anvil/internal/pki"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate named "client".
type testPKI struct {
	ca     *pki.CA
	server tls.Certificate
	client tls.Certificate
}

var localhost = []net.IP{net.IPv4(127, 0, 0, 1)}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{
		ca:     ca,
		server: issue(t, ca, pki.IssueRequest{CommonName: "server", DNSNames: []string{"server.internal"}, IPs: localhost, Server: true}),
		client: issue(t, ca, pki.IssueRequest{CommonName: "client", Client: true}),
	}
}

func issue(t *testing.T, ca *pki.CA, req pki.IssueRequest) tls.Certificate {
	t.Helper()
	c, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (p *testPKI) serverConfig() ServerConfig {
	return ServerConfig{Listen: "127.0.0.1:0", TLS: pki.ServerTLS(p.server, p.ca.Pool(), true)}
}

// start runs srv until the test ends and returns its address.
func start(t *testing.T, srv *Server) string {
	t.Helper()
	testenv.Start(t, srv)
	return srv.Addr().String()
}

func newServer(t *testing.T, cfg ServerConfig, reg prometheus.Registerer) *Server {
	t.Helper()
	srv, err := NewServer(cfg, testenv.Logger(t), reg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return srv
}

func dial(t *testing.T, cfg ClientConfig) *grpc.ClientConn {
	t.Helper()
	conn, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func rpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHealth(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := newServer(t, p.serverConfig(), nil)
	srv.Health().SetServingStatus("anvil.test.Up", healthpb.HealthCheckResponse_SERVING)
	srv.Health().SetServingStatus("anvil.test.Down", healthpb.HealthCheckResponse_NOT_SERVING)
	addr := start(t, srv)
	client := healthpb.NewHealthClient(dial(t, ClientConfig{Address: addr, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}))

	tests := []struct {
		service  string
		want     healthpb.HealthCheckResponse_ServingStatus
		wantCode codes.Code
	}{
		{"", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"anvil.test.Up", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"anvil.test.Down", healthpb.HealthCheckResponse_NOT_SERVING, codes.OK},
		{"anvil.test.Unknown", 0, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run("service="+tt.service, func(t *testing.T) {
			t.Parallel()
			resp, err := client.Check(rpcCtx(t), &healthpb.HealthCheckRequest{Service: tt.service})
			if status.Code(err) != tt.wantCode {
				t.Fatalf("Check err = %v, want code %v", err, tt.wantCode)
			}
			if err == nil && resp.GetStatus() != tt.want {
				t.Errorf("status = %v, want %v", resp.GetStatus(), tt.want)
			}
		})
	}
}

func TestRejectedClients(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	other := newPKI(t)
	addr := start(t, newServer(t, p.serverConfig(), nil))

	tests := []struct {
		name string
		tls  *tls.Config
	}{
		{"no client certificate", pki.ClientTLS(tls.Certificate{}, p.ca.Pool(), "")},
		{"client certificate from another CA", pki.ClientTLS(other.client, p.ca.Pool(), "")},
		{"server from an untrusted CA", pki.ClientTLS(other.client, other.ca.Pool(), "")},
		{"wrong server name", pki.ClientTLS(p.client, p.ca.Pool(), "elsewhere.internal")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// grpc.NewClient directly: Dial refuses a config without a
			// client certificate before it reaches the server.
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tt.tls)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = healthpb.NewHealthClient(conn).Check(rpcCtx(t), &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Check err = %v, want Unavailable", err)
			}
		})
	}
}

func TestFilesConfig(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	dir := t.TempDir()
	caFiles, err := p.ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, req pki.IssueRequest) pki.Files {
		c, err := p.ca.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.WriteFiles(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	srvFiles := write("server", pki.IssueRequest{CommonName: "server", DNSNames: []string{"server.internal"}, Server: true})
	cliFiles := write("client", pki.IssueRequest{CommonName: "client", Client: true})

	srv := newServer(t, ServerConfig{Listen: "127.0.0.1:0", CertFile: srvFiles.Cert, KeyFile: srvFiles.Key, CAFile: caFiles.Cert}, nil)
	addr := start(t, srv)
	conn := dial(t, ClientConfig{
		Address:    addr,
		CertFile:   cliFiles.Cert,
		KeyFile:    cliFiles.Key,
		CAFile:     caFiles.Cert,
		ServerName: "server.internal", // the certificate has no IP SAN
	})
	resp, err := healthpb.NewHealthClient(conn).Check(rpcCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status = %v, want SERVING", resp.GetStatus())
	}

	// Missing files fail at construction, not on the first connection.
	if _, err := NewServer(ServerConfig{Listen: "127.0.0.1:0", CertFile: srvFiles.Cert, KeyFile: srvFiles.Key, CAFile: dir + "/missing.crt"}, nil, nil); err == nil {
		t.Error("NewServer with a missing CA file succeeded")
	}
	if _, err := Dial(context.Background(), ClientConfig{Address: addr, CertFile: dir + "/missing.crt", KeyFile: cliFiles.Key, CAFile: caFiles.Cert}); err == nil {
		t.Error("Dial with a missing cert file succeeded")
	}
}

// testService is a hand-written service for exercising interceptors.
var testService = grpc.ServiceDesc{
	ServiceName: "anvil.test.Test",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		unaryMethod("Panic", func(context.Context) (any, error) { panic("boom") }),
		unaryMethod("WhoAmI", func(ctx context.Context) (any, error) {
			cn, _ := PeerCommonName(ctx)
			return wrapperspb.String(cn), nil
		}),
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "PanicStream",
		ServerStreams: true,
		Handler:       func(any, grpc.ServerStream) error { panic("stream boom") },
	}},
}

func unaryMethod(name string, f func(context.Context) (any, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			if err := dec(new(emptypb.Empty)); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) { return f(ctx) }
			if interceptor == nil {
				return h(ctx, nil)
			}
			return interceptor(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/anvil.test.Test/" + name}, h)
		},
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	reg := prometheus.NewRegistry()
	logs := testenv.NewLogRecorder(t)
	srv, err := NewServer(p.serverConfig(), logs.Logger(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv.GRPC().RegisterService(&testService, struct{}{})
	addr := start(t, srv)
	conn := dial(t, ClientConfig{Address: addr, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")})

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"unary", func(ctx context.Context) error {
			return conn.Invoke(ctx, "/anvil.test.Test/Panic", &emptypb.Empty{}, &emptypb.Empty{})
		}},
		{"stream", func(ctx context.Context) error {
			st, err := conn.NewStream(ctx, &testService.Streams[0], "/anvil.test.Test/PanicStream")
			if err != nil {
				return err
			}
			if err := st.SendMsg(&emptypb.Empty{}); err != nil {
				return err
			}
			if err := st.CloseSend(); err != nil {
				return err
			}
			return st.RecvMsg(&emptypb.Empty{})
		}},
	}
	// Not parallel: the metric counts below depend on both calls.
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(rpcCtx(t))
			st, _ := status.FromError(err)
			if st.Code() != codes.Internal || st.Message() != "internal error" {
				t.Fatalf("err = %v, want Internal 'internal error' (panic value not leaked)", err)
			}
		})
	}

	// The server keeps serving.
	var who wrapperspb.StringValue
	if err := conn.Invoke(rpcCtx(t), "/anvil.test.Test/WhoAmI", &emptypb.Empty{}, &who); err != nil {
		t.Fatalf("WhoAmI after panics: %v", err)
	}
	if who.GetValue() != "client" {
		t.Errorf("PeerCommonName = %q, want %q", who.GetValue(), "client")
	}

	if got := counterValue(t, reg, "grpc_server_panics_recovered_total", nil); got != 2 {
		t.Errorf("panics recovered = %v, want 2", got)
	}
	for method, code := range map[string]string{"Panic": "Internal", "PanicStream": "Internal", "WhoAmI": "OK"} {
		labels := map[string]string{"grpc_service": "anvil.test.Test", "grpc_method": method, "grpc_code": code}
		if got := counterValue(t, reg, "grpc_server_handled_total", labels); got != 1 {
			t.Errorf("handled %v = %v, want 1", labels, got)
		}
	}
	for _, want := range []string{`msg="rpc handler panicked"`, "panic=boom", `panic="stream boom"`, "peer=client", "stack="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs do not contain %q", want)
		}
	}
}

// counterValue returns the value of the counter name whose labels include
// want, or -1 if there is none.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestSharedRegistry(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	reg := prometheus.NewRegistry()
	newServer(t, p.serverConfig(), reg)
	newServer(t, p.serverConfig(), reg) // a second server reuses the collectors

	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "grpc_server_panics_recovered_total", Help: "clash"})
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(clash)
	if _, err := NewServer(p.serverConfig(), nil, reg2); err == nil {
		t.Error("NewServer with a clashing metric succeeded")
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		watch bool // hold a Health/Watch stream open across shutdown
	}{
		{"idle", false},
		{"stream in flight", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t)
			cfg := p.serverConfig()
			cfg.ShutdownTimeout = 200 * time.Millisecond
			srv := newServer(t, cfg, nil)
			stop := testenv.Start(t, srv)

			var watch healthpb.Health_WatchClient
			if tt.watch {
				conn := dial(t, ClientConfig{Address: srv.Addr().String(), TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")})
				var err error
				watch, err = healthpb.NewHealthClient(conn).Watch(rpcCtx(t), &healthpb.HealthCheckRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("first watch update = %v, %v; want SERVING", resp, err)
				}
			}

			begin := time.Now()
			if err := stop(); err != nil {
				t.Fatalf("Run returned %v, want nil", err)
			}
			if !tt.watch {
				return
			}
			if d := time.Since(begin); d < cfg.ShutdownTimeout {
				t.Errorf("Run returned after %v, before ShutdownTimeout with a stream open", d)
			}
			// The watcher saw NOT_SERVING, then the stream was cut.
			if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Errorf("watch update after shutdown = %v, %v; want NOT_SERVING", resp, err)
			}
			if _, err := watch.Recv(); err == nil {
				t.Error("watch stream still open after Run returned")
			}
		})
	}
}

func TestRunLifecycleErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)

	t.Run("cancelled before start", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, p.serverConfig(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := srv.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if err := srv.Run(ctx); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("second Run = %v, want 'twice'", err)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		t.Parallel()
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		cfg := p.serverConfig()
		cfg.Listen = taken.Addr().String()
		srv := newServer(t, cfg, nil)
		if err := srv.Run(context.Background()); err == nil {
			t.Fatal("Run on a taken address succeeded")
		}
		select {
		case <-srv.Ready():
			t.Error("Ready closed although nothing was bound")
		default:
		}
	})
}

func TestServerConfigValidate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	mtls := pki.ServerTLS(p.server, p.ca.Pool(), true)
	tests := []struct {
		name    string
		cfg     ServerConfig
		wantErr []string
	}{
		{"files", ServerConfig{Listen: ":8889", CertFile: "c", KeyFile: "k", CAFile: "ca"}, nil},
		{"in-memory tls", ServerConfig{Listen: "127.0.0.1:0", TLS: mtls}, nil},
		{"everything missing", ServerConfig{}, []string{"listen: required", "cert_file: required", "key_file: required", "ca_file: required"}},
		{"bad listen", ServerConfig{Listen: "8889", CertFile: "c", KeyFile: "k", CAFile: "ca"}, []string{"listen: "}},
		{"negative timeout", ServerConfig{Listen: ":1", CertFile: "c", KeyFile: "k", CAFile: "ca", ShutdownTimeout: -time.Second}, []string{"shutdown_timeout"}},
		{"tls without client auth", ServerConfig{Listen: ":1", TLS: pki.ServerTLS(p.server, p.ca.Pool(), false)}, []string{"client auth"}},
		{"tls without client CAs", ServerConfig{Listen: ":1", TLS: &tls.Config{Certificates: mtls.Certificates, ClientAuth: tls.RequireAndVerifyClientCert}}, []string{"no client CAs"}},
		{"tls without certificate", ServerConfig{Listen: ":1", TLS: &tls.Config{ClientCAs: p.ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}}, []string{"no server certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Defaults()
			checkErr(t, cfg.Validate(), tt.wantErr)
			if tt.wantErr == nil && cfg.ShutdownTimeout != DefaultShutdownTimeout {
				t.Errorf("ShutdownTimeout = %v, want default", cfg.ShutdownTimeout)
			}
		})
	}
}

func TestClientConfigValidate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantErr []string
	}{
		{"files", ClientConfig{Address: "bbs:8889", CertFile: "c", KeyFile: "k", CAFile: "ca"}, nil},
		{"in-memory tls", ClientConfig{Address: "bbs:8889", TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}, nil},
		{"everything missing", ClientConfig{}, []string{"address: required", "cert_file: required", "key_file: required", "ca_file: required"}},
		{"tls without client certificate", ClientConfig{Address: "x:1", TLS: pki.ClientTLS(tls.Certificate{}, p.ca.Pool(), "")}, []string{"no client certificate"}},
		{"tls without roots", ClientConfig{Address: "x:1", TLS: pki.ClientTLS(p.client, nil, "")}, []string{"no root CAs"}},
		{"addresses", ClientConfig{Addresses: []string{"bbs-0:8889", "bbs-1:8889"}, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}, nil},
		{"address and addresses", ClientConfig{Address: "x:1", Addresses: []string{"y:1"}, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}, []string{"set one, not both"}},
		{"bad addresses", ClientConfig{Addresses: []string{"nope"}, TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}, []string{"addresses[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Defaults()
			checkErr(t, cfg.Validate(), tt.wantErr)
			if cfg.TLS == nil {
				return // the files do not exist; TestFilesConfig dials with real ones
			}
			// Dial validates too.
			conn, err := Dial(context.Background(), cfg)
			if err == nil {
				conn.Close()
			}
			if (err != nil) != (tt.wantErr != nil) {
				t.Errorf("Dial err = %v, want error: %v", err, tt.wantErr != nil)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, ClientConfig{Address: "x:1", TLS: pki.ClientTLS(p.client, p.ca.Pool(), "")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with cancelled ctx = %v, want context.Canceled", err)
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("Validate succeeded, want error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestAddressesUseWhicheverServes(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	idle := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // nothing listens here yet
	first := newServer(t, p.serverConfig(), nil)
	stopFirst := testenv.Start(t, first)
	client := healthpb.NewHealthClient(dial(t, ClientConfig{
		Addresses: []string{idle, first.Addr().String()},
		TLS:       pki.ClientTLS(p.client, p.ca.Pool(), ""),
	}))
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("Check with the second address serving: %v", err)
	}
	// The serving one goes away and another comes up on the first address,
	// as when a passive BBS takes over.
	if err := stopFirst(); err != nil {
		t.Fatal(err)
	}
	cfg := p.serverConfig()
	cfg.Listen = idle
	testenv.Start(t, newServer(t, cfg, nil))
	testenv.Eventually(t, 20*time.Second, check)
}
