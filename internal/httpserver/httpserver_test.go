package httpserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	inFlight := make(chan struct{})
	h := http.NewServeMux()
	h.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	h.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(inFlight)
		<-release
		io.WriteString(w, "done")
	})
	s := New("test", Config{Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}, h, testenv.Logger(t))
	stop := testenv.Start(t, s)
	base := "http://" + s.Addr().String()

	resp, err := http.Get(base + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}

	// An in-flight request finishes during graceful shutdown.
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	select {
	case <-inFlight:
	case b := <-got:
		t.Fatalf("slow request ended early: %q", b)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("in-flight request got %q, want done", b)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestListenError(t *testing.T) {
	t.Parallel()
	first := New("a", Config{Listen: "127.0.0.1:0"}, http.NotFoundHandler(), testenv.Logger(t))
	testenv.Start(t, first)
	second := New("b", Config{Listen: first.Addr().String()}, http.NotFoundHandler(), testenv.Logger(t))
	err := second.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "b: listen") {
		t.Fatalf("Run on a taken port = %v, want a listen error", err)
	}
}
