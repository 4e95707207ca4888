package diego

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/rpc"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestKillActiveBBS runs two bbs processes on one database, kills the
// active one with SIGKILL (no graceful release of anything), and checks
// that the passive one serves within 5 s with nothing desired lost.
func TestKillActiveBBS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bbs")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/anvilpaas/anvil/cmd/bbs").CombinedOutput(); err != nil {
		t.Fatalf("build bbs: %v\n%s", err, out)
	}
	certs := testenv.TLSCerts(t, "bbs")
	dsn := testenv.Postgres(t)
	tls := map[string]any{"cert_file": certs.CertFile, "key_file": certs.KeyFile, "ca_file": certs.CAFile}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range tls {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	type proc struct {
		cmd       *exec.Cmd
		grpc, ops string
	}
	start := func(name string) *proc {
		p := &proc{
			grpc: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			ops:  fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		}
		cfg := map[string]any{
			"grpc":       with(map[string]any{"listen": p.grpc}),
			"ops":        map[string]any{"listen": p.ops},
			"database":   map[string]any{"dsn": dsn},
			"auctioneer": with(map[string]any{"address": "127.0.0.1:1"}), // unused here
			"rep_client": tls,
			"registry":   map[string]any{"bind": "127.0.0.1:0", "cluster": "failover-" + name},
			"lock":       map[string]any{"retry_interval": "200ms"},
		}
		data, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(bin, "-config", path)
		p.cmd.Stdout, p.cmd.Stderr = log, log
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
			if t.Failed() {
				out, _ := os.ReadFile(log.Name())
				t.Logf("%s log:\n%s", name, out)
			}
		})
		return p
	}
	ready := func(p *proc) error {
		resp, err := http.Get("http://" + p.ops + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	}

	a := start("a")
	testenv.Eventually(t, 30*time.Second, func() error { return ready(a) })
	b := start("b")

	conn, err := rpc.Dial(context.Background(), rpc.ClientConfig{
		Addresses: []string{a.grpc, b.grpc}, CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := bbsv1.NewBBSServiceClient(conn)
	ctx := ctxFor(t)
	for i := range 20 {
		if _, err := client.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp(fmt.Sprintf("app-%d", i), 2, 128)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ready(b); err == nil {
		t.Fatal("the passive BBS reports ready while the active one holds the lock")
	}

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	testenv.Eventually(t, 5*time.Second, func() error { return ready(b) })
	t.Logf("passive BBS serving %v after SIGKILL of the active one", time.Since(killed))

	resp, err := client.ListDesiredLRPSchedulingInfos(ctx, &bbsv1.ListDesiredLRPSchedulingInfosRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetSchedulingInfos()); n != 20 {
		t.Errorf("after failover %d desired LRPs, want 20", n)
	}
}
