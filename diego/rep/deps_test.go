package rep_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the rep from linking other components: daemons
// talk through api/ only.
func TestDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/anvilpaas/anvil/diego/rep").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"/cloudcontroller", "/diego/bbs", "/diego/auctioneer", "/gorouter", "/uaa", "/blobstore", "/loggregator", "/servicebroker"} {
			if strings.HasPrefix(dep, "github.com/anvilpaas/anvil"+banned) {
				t.Errorf("rep links %s", dep)
			}
		}
		if strings.Contains(dep, "github.com/jackc/pgx") || strings.Contains(dep, "nats-io/nats-server") {
			t.Errorf("rep links %s", dep)
		}
	}
}
