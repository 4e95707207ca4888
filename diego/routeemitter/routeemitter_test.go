package routeemitter

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/testenv"
)

// emitterEnv is an emitter following a fake BBS, with a router's view of
// NATS.
type emitterEnv struct {
	bbs     *fakeBBS
	router  *routerLog
	emitter *Emitter
	stop    func() error
}

func startEmitter(t *testing.T, prepare func(f *fakeBBS), change func(*Config)) *emitterEnv {
	t.Helper()
	certs := testenv.TLSCerts(t, "route-emitter")
	nats := testenv.NATS(t)
	f := newFakeBBS()
	if prepare != nil {
		prepare(f)
	}
	addr := serveFakeBBS(t, certs, f)
	env := &emitterEnv{bbs: f, router: newRouterLog(t, nats.ClientURL())}
	cfg := testConfig(certs, addr, nats.ClientURL())
	if change != nil {
		change(&cfg)
	}
	e, err := New(cfg, Deps{Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	env.emitter = e
	env.stop = testenv.Start(t, e) // returns after the first sync
	return env
}

const (
	webA = "web.example.com 10.0.0.1:61000"
	webB = "web2.example.com 10.0.0.1:61000"
	web1 = "web.example.com 10.0.0.1:61001"
)

func TestRegistersRoutableInstances(t *testing.T) {
	t.Parallel()
	env := startEmitter(t, func(f *fakeBBS) {
		// Known before the emitter starts: found by the first sync.
		f.desire(schedulingInfo("web", `[{"hostnames":["web.example.com"],"port":8080}]`, 0))
		f.setActual(runningLRP("web", 0, true, 0))
	}, nil)
	env.router.wait("register "+webA, 1)

	// A second instance starts, not yet routable (readiness check).
	env.bbs.setActual(runningLRP("web", 1, false, 0))
	env.bbs.setActual(runningLRP("web", 1, true, 1))
	env.router.wait("register "+web1, 1)

	// The rep clears routable before stopping it: unregistered at once.
	env.bbs.setActual(runningLRP("web", 1, false, 2))
	env.router.wait("unregister "+web1, 1)

	// Routes change: the new hostname is registered, the removed one
	// unregistered, on the instance still routable.
	env.bbs.desire(schedulingInfo("web", `[{"hostnames":["web2.example.com"],"port":8080}]`, 1))
	env.router.wait("register "+webB, 1)
	env.router.wait("unregister "+webA, 1)
	if n := env.router.count("register " + web1); n != 1 {
		t.Errorf("the unroutable instance was registered again (%d)", n)
	}

	// /readyz passes and the metrics are served.
	body := httpGet(t, "http://"+env.emitter.OpsAddr()+"/metrics")
	for _, want := range []string{"route_emitter_routes 1", `route_emitter_messages_total{subject="router.register"}`, "route_emitter_sync_duration_seconds_count 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, err := get("http://" + env.emitter.OpsAddr() + "/readyz"); err != nil || code != http.StatusOK {
		t.Errorf("/readyz = %d, %v", code, err)
	}
}

func TestRouterStartReemitsEverything(t *testing.T) {
	t.Parallel()
	env := startEmitter(t, func(f *fakeBBS) {
		f.desire(schedulingInfo("web", `[{"hostnames":["web.example.com","web2.example.com"],"port":8080}]`, 0))
		f.setActual(runningLRP("web", 0, true, 0))
	}, nil)
	env.router.wait("register "+webA, 1)
	env.router.wait("register "+webB, 1)
	env.router.routerStart(20)
	env.router.wait("register "+webA, 2)
	env.router.wait("register "+webB, 2)
}

func TestPeriodicReemit(t *testing.T) {
	t.Parallel()
	env := startEmitter(t, func(f *fakeBBS) {
		f.desire(schedulingInfo("web", `[{"hostnames":["web.example.com"],"port":8080}]`, 0))
		f.setActual(runningLRP("web", 0, true, 0))
	}, func(c *Config) { c.Emit.RegisterInterval = 50 * time.Millisecond })
	env.router.wait("register "+webA, 3)
}

func TestResyncAfterFailover(t *testing.T) {
	t.Parallel()
	env := startEmitter(t, func(f *fakeBBS) {
		f.desire(schedulingInfo("web", `[{"hostnames":["web.example.com"],"port":8080}]`, 0))
		f.setActual(runningLRP("web", 0, true, 0))
		f.setActual(runningLRP("web", 1, true, 0))
	}, nil)
	env.router.wait("register "+webA, 1)
	env.router.wait("register "+web1, 1)
	before := env.bbs.listings()

	// While the emitter is cut off, instance 1 goes away without an event
	// reaching it, and a new app starts.
	env.bbs.failover(func() {
		env.bbs.removeActualSilently("web", 1)
		env.bbs.desire(schedulingInfo("api", `[{"hostnames":["api.example.com"],"port":8080}]`, 0))
		env.bbs.setActual(runningLRP("api", 0, true, 0))
	})
	env.router.wait("unregister "+web1, 1)
	env.router.wait("register api.example.com 10.0.0.1:61000", 1)
	if env.bbs.listings() <= before {
		t.Error("no new listing after the failover")
	}
	if n := env.router.count("unregister " + webA); n != 0 {
		t.Errorf("instance 0 unregistered %d times across the resync", n)
	}
}

func TestNoUnregisterOnShutdown(t *testing.T) {
	t.Parallel()
	env := startEmitter(t, func(f *fakeBBS) {
		f.desire(schedulingInfo("web", `[{"hostnames":["web.example.com"],"port":8080}]`, 0))
		f.setActual(runningLRP("web", 0, true, 0))
	}, nil)
	env.router.wait("register "+webA, 1)
	if err := env.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := env.router.conn.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, m := range env.router.all() {
		if strings.HasPrefix(m, "unregister") {
			t.Errorf("unregistered on shutdown: %s", m)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
