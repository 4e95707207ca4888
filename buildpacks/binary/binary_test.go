package binary_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

// app returns an app dir holding the pre-built sample binary and, when
// procfile is set, a Procfile.
func app(t *testing.T, procfile string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "hello"), "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if procfile != "" {
		if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNeverDetects(t *testing.T) {
	t.Parallel()
	got := lt.Stage{App: app(t, "web: ./hello\n"), Buildpacks: []lt.Buildpack{lt.Binary(t)}}.Run(t)
	if got.ExitCode != 222 {
		t.Fatalf("exit %d, want 222", got.ExitCode)
	}
}

func TestStagesAndRunsWithProcfile(t *testing.T) {
	t.Parallel()
	got := lt.Stage{App: app(t, "web: ./hello\n"), Buildpacks: []lt.Buildpack{lt.Binary(t)}, SkipDetect: true}.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "-----> Binary Buildpack version 1.0.0") {
		t.Errorf("stdout %q", got.Stdout)
	}
	md := got.Result.LifecycleMetadata
	if got.Result.ProcessTypes["web"] != "./hello" || md.DetectedBuildpack != "binary_buildpack" ||
		md.BuildpackKey != "binary_buildpack" || md.Buildpacks[0].Version != "1.0.0" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	home := lt.Extract(t, got.Droplet)
	run := lt.Launch(t, home, "")
	resp, err := http.Get(run.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from a binary, HOME=" + filepath.Join(home, "app"); !strings.Contains(string(body), want) {
		t.Fatalf("body %q, want %q", body, want)
	}
}

func TestStagesWithoutStartCommand(t *testing.T) {
	t.Parallel()
	got := lt.Stage{App: app(t, ""), Buildpacks: []lt.Buildpack{lt.Binary(t)}, SkipDetect: true}.Run(t)
	if got.ExitCode != 0 || len(got.Result.ProcessTypes) != 0 {
		t.Fatalf("exit %d, result %s", got.ExitCode, got.ResultJSON)
	}
	if !strings.Contains(got.Stdout, "cf push -c") || !strings.Contains(got.Stderr, "No start command specified by buildpack or via Procfile.") {
		t.Fatalf("no hint about the start command: %q %q", got.Stdout, got.Stderr)
	}
	// The command given at run time (`cf push -c`) starts it.
	run := lt.Launch(t, lt.Extract(t, got.Droplet), "./hello")
	if resp, err := http.Get(run.URL + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v", err)
	}
}
