package lifecycle_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The builder and launcher run inside app containers: they may link only
// the standard library, a YAML parser and the lifecycle's own packages.
func TestProgramDependencies(t *testing.T) {
	t.Parallel()
	allowed := []string{
		"github.com/anvilpaas/anvil/diego/lifecycle/",
		"go.yaml.in/yaml/v3",
	}
	for _, cmd := range []string{"./cmd/builder", "./cmd/launcher"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", cmd, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			ok := false
			for _, a := range allowed {
				ok = ok || strings.HasPrefix(dep, a)
			}
			if !ok {
				t.Errorf("%s links %s", cmd, dep)
			}
		}
	}
}
