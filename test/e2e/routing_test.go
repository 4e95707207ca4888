package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
	"github.com/anvilpaas/anvil/internal/testenv"
)

// TestLRPRoutedAndLogged desires a two-instance LRP on the BBS (busybox
// httpd on the dev cell's busybox stack) with a route, and checks the whole
// path: the rep runs it in containerd, the route_emitter registers both
// instances, the gorouter balances across them, and log-cache holds the
// app's output (APP/PROC/WEB), the cell's messages (CELL), the router's
// access lines (RTR) and container metrics. Removing the LRP removes the
// route.
func TestLRPRoutedAndLogged(t *testing.T) {
	p := start(t)
	const app = "0e2e0000-0000-4000-8000-000000000001"
	host := "hello.apps.localhost"
	lrp := &bbsv1.DesiredLRP{
		ProcessGuid: app + "-web", Domain: "cf-apps", Instances: 2, RootFs: "preloaded:busybox",
		MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: app, LogRateLimitBytesPerSecond: -1,
		Routes:     map[string][]byte{"cf-router": []byte(`[{"hostnames":["` + host + `"],"port":8080}]`)},
		MetricTags: map[string]string{"app_id": app, "process_type": "web"},
		Action: &bbsv1.RunAction{Path: "/bin/sh", LogSource: "APP/PROC/WEB", Args: []string{"-c",
			`echo "instance $CF_INSTANCE_INDEX" > /tmp/index.html; echo "listening on $PORT"; exec httpd -f -p $PORT -h /tmp`}},
		HealthCheck: &bbsv1.HealthCheckDefinition{Check: &bbsv1.Check{Type: bbsv1.HealthCheckType_HEALTH_CHECK_TYPE_PORT}},
	}
	ctx := context.Background()
	if _, err := p.bbs.DesireLRP(ctx, &bbsv1.DesireLRPRequest{DesiredLrp: lrp}); err != nil {
		t.Fatalf("desire: %v", err)
	}

	seen := map[string]bool{}
	testenv.Eventually(t, 90*time.Second, func() error {
		code, body, err := p.get(host, "/index.html")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("router answered %d %q", code, body)
		}
		seen[strings.TrimSpace(body)] = true
		if !seen["instance 0"] || !seen["instance 1"] {
			return fmt.Errorf("instances answered so far: %v", seen)
		}
		return nil
	})

	token := p.adminToken(t)
	testenv.Eventually(t, 60*time.Second, func() error {
		kinds, err := p.envelopeKinds(token, app)
		if err != nil {
			return err
		}
		for _, want := range []string{"APP/PROC/WEB", "CELL", "RTR", "gauge"} {
			if kinds[want] == 0 {
				return fmt.Errorf("log-cache has no %s envelope for the app yet (has %v)", want, kinds)
			}
		}
		return nil
	})

	if _, err := p.bbs.RemoveDesiredLRP(ctx, &bbsv1.RemoveDesiredLRPRequest{ProcessGuid: lrp.ProcessGuid}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		code, _, err := p.get(host, "/index.html")
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			return fmt.Errorf("still routed after the LRP was removed")
		}
		return nil
	})
}

// envelopeKinds counts the app's envelopes in log-cache by log source_type
// ("APP/PROC/WEB", "RTR", …) and by kind for the others ("gauge").
func (p *platform) envelopeKinds(token, sourceID string) (map[string]int, error) {
	req, _ := http.NewRequest("GET", p.ep.LogCache+"/api/v1/read/"+sourceID+"?limit=1000", nil)
	req.Header.Set("Authorization", "bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("log-cache read: %d", resp.StatusCode)
	}
	var body struct {
		Envelopes struct {
			Batch []struct {
				Tags map[string]string `json:"tags"`
				Log  *struct {
					Payload string `json:"payload"`
				} `json:"log"`
				Gauge json.RawMessage `json:"gauge"`
			} `json:"batch"`
		} `json:"envelopes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	kinds := map[string]int{}
	for _, e := range body.Envelopes.Batch {
		switch {
		case e.Log != nil:
			if _, err := base64.StdEncoding.DecodeString(e.Log.Payload); err != nil {
				return nil, fmt.Errorf("log payload is not base64: %w", err)
			}
			kinds[e.Tags["source_type"]]++
		case e.Gauge != nil:
			kinds["gauge"]++
		}
	}
	return kinds, nil
}
