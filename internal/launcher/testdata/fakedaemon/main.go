// Command fakedaemon stands in for an Anvil daemon in the launcher's tests:
// it reads -config, serves /readyz on ops_listen and behaves as mode says.
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"go.yaml.in/yaml/v3"
)

type config struct {
	OpsListen string `yaml:"ops_listen"`
	// Mode is "ok", "never-ready" (serves 503) or "fail" (exits 3 at once).
	Mode string `yaml:"mode"`
}

func main() {
	path := flag.String("config", "", "config file")
	flag.Parse()
	data, err := os.ReadFile(*path)
	if err != nil {
		os.Exit(2)
	}
	var cfg config
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		os.Exit(2)
	}
	if cfg.Mode == "fail" {
		os.Stderr.WriteString("fakedaemon: failing as asked\n")
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: cfg.OpsListen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.Mode == "never-ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		os.Exit(1)
	}
}
