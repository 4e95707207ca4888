package gobuildpack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anvilpaas/anvil/buildpacks/go/toolchain"
	"github.com/anvilpaas/anvil/buildpacks/internal/stagetest"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

var (
	tarOnce sync.Once
	tarPath string
	tarErr  error
)

func TestMain(m *testing.M) {
	code := lt.Main(m)
	if tarPath != "" {
		os.RemoveAll(filepath.Dir(tarPath))
	}
	os.Exit(code)
}

// buildpack lays out go_buildpack as `make buildpacks` zips it: the
// scripts plus lib/go.tar.gz packed from this machine's GOROOT.
func buildpack(t *testing.T) lt.Buildpack {
	t.Helper()
	stagetest.RootFS(t)
	tarOnce.Do(func() {
		var out []byte
		out, tarErr = exec.Command("go", "env", "GOROOT").Output()
		if tarErr != nil {
			return
		}
		var dir string
		if dir, tarErr = os.MkdirTemp("", "go-toolchain"); tarErr != nil {
			return
		}
		tarPath = filepath.Join(dir, "go.tar.gz")
		f, err := os.Create(tarPath)
		if err != nil {
			tarErr = err
			return
		}
		tarErr = toolchain.Write(f, strings.TrimSpace(string(out)))
		if err := f.Close(); tarErr == nil {
			tarErr = err
		}
	})
	if tarErr != nil {
		t.Fatal(tarErr)
	}
	dir := filepath.Join(t.TempDir(), "go")
	lt.CopyDir(t, filepath.Join(lt.RepoDir(t), "buildpacks", "go"), dir)
	lt.CopyDir(t, tarPath, filepath.Join(dir, "lib", "go.tar.gz"))
	return lt.Buildpack{Key: "go_buildpack", Dir: dir}
}

func goVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func exists(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("droplet: %v", err)
		}
	}
}

// TestStagesAndRunsGoApps stages the sample app cold, then the vendored
// app with the first staging's cache (the build cache makes it warm), and
// runs both with the launcher as vcap in the stack.
func TestStagesAndRunsGoApps(t *testing.T) {
	bp := buildpack(t)
	got := stagetest.Stage(t, lt.Stage{App: "testdata/hello", Buildpacks: []lt.Buildpack{bp}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	for _, want := range []string{
		"-----> Go Buildpack version 1.0.0",
		"-----> Using the bundled Go toolchain " + goVersion(t),
		"-----> No vendor/: using modules from the module cache (offline, GOPROXY=off)",
		"-----> Built bin/hello",
	} {
		if !strings.Contains(got.Stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	md := got.Result.LifecycleMetadata
	if got.Result.ProcessTypes["web"] != "hello" || md.DetectedBuildpack != "go_buildpack" ||
		md.Buildpacks[0].DetectOutput != "go" || md.Buildpacks[0].Version != "1.0.0" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	home := lt.Extract(t, got.Droplet)
	exists(t, filepath.Join(home, "app/bin/hello"), filepath.Join(home, "profile.d/go.sh"), filepath.Join(home, "deps/0/config.yml"))
	run := stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello from go, HOME=/home/vcap/app\n" {
		t.Errorf("GET / = %d %q", code, body)
	}

	cache := lt.Extract(t, got.Cache)
	exists(t, filepath.Join(cache, "final", "go-build"))
	got = stagetest.Stage(t, lt.Stage{App: "testdata/vendored", Buildpacks: []lt.Buildpack{bp}, CacheDir: cache})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "-----> Using the vendored modules in vendor/") {
		t.Errorf("stdout %q", got.Stdout)
	}
	// The module is example.com/greeter/v2: the binary is greeter.
	if got.Result.ProcessTypes["web"] != "greeter" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	run = stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello, vcap, from a vendored module\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestStagingFailures(t *testing.T) {
	bp := buildpack(t)
	for _, tc := range []struct {
		app  string
		code int
		want string
	}{
		{"testdata/newer", 223, "ERROR: go.mod requires go 1.99, but this buildpack bundles " + goVersion(t)},
		{"testdata/needsmodule", 223, "ERROR: the app needs modules that are not vendored, and staging is offline (GOPROXY=off); run `go mod vendor` and push again"},
		{"testdata/notgo", 222, "None of the buildpacks detected a compatible application"},
	} {
		t.Run(filepath.Base(tc.app), func(t *testing.T) {
			t.Parallel()
			got := stagetest.Stage(t, lt.Stage{App: tc.app, Buildpacks: []lt.Buildpack{bp}})
			if got.ExitCode != tc.code || !strings.Contains(got.Stderr, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q", got.ExitCode, tc.code, got.Stderr, tc.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"go.mod", map[string]string{"go.mod": "module example.com/x\n"}, true},
		{"go files", map[string]string{"main.go": "package main\n"}, true},
		{"nested go files only", map[string]string{"cmd/x/main.go": "package main\n"}, false},
		{"nothing", map[string]string{"index.html": ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, ok := stagetest.Detect(t, ".", tc.files)
			if ok != tc.want || (ok && out != "go") {
				t.Fatalf("detect = %q, %t; want %t", out, ok, tc.want)
			}
		})
	}
}

// TestRelease runs bin/release on the host: the web process is the binary
// named after the module path.
func TestRelease(t *testing.T) {
	t.Parallel()
	for mod, want := range map[string]string{
		"example.com/hello":      "hello",
		"example.com/greeter/v2": "greeter",
		`"example.com/quoted"`:   "quoted",
		"app":                    "app",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+mod+"\n\ngo 1.24\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("bin/release", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("bin/release: %v\n%s", err, out)
		}
		if got := string(out); got != "---\ndefault_process_types:\n  web: "+want+"\n" {
			t.Errorf("module %s: release %q, want web: %s", mod, got, want)
		}
	}
}
