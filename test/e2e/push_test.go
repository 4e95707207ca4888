package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/test/e2e/cfv3"
)

// TestPush pushes a static site, a Go binary and a Go app from source
// (detected by the go_buildpack) the way `cf push` does
// (apply_manifest, resource matching, package upload, build on a cell,
// droplet, restart), then checks each answers through the gorouter, that
// log-cache has its staging, app and router lines, and that scaling to 3
// gives 3 instances that answer. Log-cache must hold each app's staging
// (STG), app (APP/PROC/WEB), router (RTR), cell (CELL) and Cloud Controller
// (API) lines.
func TestPush(t *testing.T) {
	p := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cf, err := cfv3.Login(ctx, p.ep.API, p.ep.UAA, p.ep.AdminUser, p.ep.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	space, err := cf.CreateOrgSpace(ctx, "e2e-org", "e2e-space")
	if err != nil {
		t.Fatal(err)
	}

	site := t.TempDir()
	writeFile(t, site, "index.html", "<h1>static e2e</h1>\n")
	writeFile(t, site, "Staticfile", "")

	binApp := t.TempDir()
	src := t.TempDir()
	writeFile(t, src, "go.mod", "module e2eapp\n\ngo 1.26\n")
	writeFile(t, src, "main.go", `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	fmt.Println("e2e binary listening on", os.Getenv("PORT"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "instance %s", os.Getenv("CF_INSTANCE_INDEX"))
	})
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`)
	build := exec.Command("go", "build", "-o", filepath.Join(binApp, "server"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the app: %v\n%s", err, out)
	}

	// A Go web app from source, for the go_buildpack to detect and compile
	// (no -b): its module name is its binary's name.
	goApp := t.TempDir()
	writeFile(t, goApp, "go.mod", "module example.com/hello\n\ngo 1.26\n")
	writeFile(t, goApp, "main.go", `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from go") })
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		os.Exit(1)
	}
}
`)

	manifest := `applications:
- name: site
  buildpacks: [staticfile_buildpack]
  memory: 64M
  default-route: true
- name: bin
  buildpacks: [binary_buildpack]
  command: ./server
  memory: 64M
  default-route: true
- name: goapp
  memory: 256M
  default-route: true
`
	if err := cf.ApplyManifest(ctx, space, manifest); err != nil {
		t.Fatalf("apply_manifest: %v", err)
	}
	for _, app := range []struct{ name, dir, want string }{
		{"site", site, "<h1>static e2e</h1>\n"},
		{"bin", binApp, "instance 0"},
		{"goapp", goApp, "hello from go"},
	} {
		guid, err := cf.AppGUID(ctx, space, app.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cf.Push(ctx, guid, app.dir); err != nil {
			t.Fatalf("push %s: %v", app.name, err)
		}
		if _, err := cf.WaitRunning(ctx, guid); err != nil {
			t.Fatalf("%s does not run: %v", app.name, err)
		}
		host := app.name + ".apps.localhost"
		testenv.Eventually(t, 30*time.Second, func() error {
			code, body, err := p.get(host, "/")
			if err != nil {
				return err
			}
			if code != http.StatusOK || body != app.want {
				return fmt.Errorf("%s answered %d %q", host, code, body)
			}
			return nil
		})
		token := p.adminToken(t)
		testenv.Eventually(t, 30*time.Second, func() error {
			kinds, err := p.envelopeKinds(token, guid)
			if err != nil {
				return err
			}
			for _, want := range []string{"STG", "APP/PROC/WEB", "RTR", "CELL", "API"} {
				if kinds[want] == 0 {
					return fmt.Errorf("%s: no %s lines in log-cache yet (%v)", app.name, want, kinds)
				}
			}
			return nil
		})
	}

	guid, err := cf.AppGUID(ctx, space, "bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.Scale(ctx, guid, 3); err != nil {
		t.Fatalf("scale: %v", err)
	}
	if in, err := cf.WaitRunning(ctx, guid); err != nil || len(in) != 3 {
		t.Fatalf("after scaling to 3: %+v %v", in, err)
	}
	seen := map[string]bool{}
	testenv.Eventually(t, 60*time.Second, func() error {
		_, body, err := p.get("bin.apps.localhost", "/")
		if err != nil {
			return err
		}
		seen[body] = true
		for i := range 3 {
			if !seen[fmt.Sprintf("instance %d", i)] {
				return fmt.Errorf("answered so far: %v", seen)
			}
		}
		return nil
	})
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
