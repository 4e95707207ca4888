package python_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/buildpacks/internal/stagetest"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

func buildpack(t *testing.T) lt.Buildpack {
	t.Helper()
	return lt.Buildpack{Key: "python_buildpack", Dir: filepath.Join(lt.RepoDir(t), "buildpacks", "python")}
}

func TestStagesAndRunsStdlibApp(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/hello", Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	for _, want := range []string{
		"-----> Python Buildpack version 1.0.0",
		"-----> Using Python 3.11",
		"-----> Creating a virtualenv in .venv",
		"-----> No requirements to install",
	} {
		if !strings.Contains(got.Stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	md := got.Result.LifecycleMetadata
	if got.Result.ProcessTypes["web"] != "python3 app.py" || md.DetectedBuildpack != "python_buildpack" || md.Buildpacks[0].DetectOutput != "python" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	home := lt.Extract(t, got.Droplet)
	for _, p := range []string{"app/.venv/bin/python3", "app/.venv/pyvenv.cfg", "profile.d/python.sh", "deps/0/config.yml"} {
		if _, err := os.Lstat(filepath.Join(home, p)); err != nil {
			t.Errorf("droplet: %v", err)
		}
	}
	activate, err := os.ReadFile(filepath.Join(home, "app/.venv/bin/activate"))
	if err != nil || !strings.Contains(string(activate), "VIRTUAL_ENV=/home/vcap/app/.venv") || strings.Contains(string(activate), "/tmp/staging") {
		t.Errorf("the venv's scripts do not point where the app runs: %v\n%s", err, activate)
	}
	run := stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello from python, prefix=/home/vcap/app/.venv\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestInstallsVendoredWheel(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/withwheel", Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "-----> Installing requirements.txt from vendor/") ||
		!strings.Contains(got.Stdout, "Successfully installed greeting-1.0") {
		t.Errorf("stdout %q", got.Stdout)
	}
	if got.Result.ProcessTypes["web"] != "python3 server.py" { // from the Procfile
		t.Fatalf("result %s", got.ResultJSON)
	}
	run := stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello, vcap, from a vendored wheel\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestMissingWheelFails(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/missingwheel", Buildpacks: []lt.Buildpack{buildpack(t)}})
	want := "ERROR: no vendored wheels for requests==2.32; vendor them with `pip download -d vendor -r requirements.txt`"
	if got.ExitCode != 223 || !strings.Contains(got.Stderr, want) {
		t.Fatalf("exit %d, stderr %q; want 223 and %q", got.ExitCode, got.Stderr, want)
	}
}

func TestNotDetected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := stagetest.Stage(t, lt.Stage{App: dir, Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 222 {
		t.Fatalf("exit %d, want 222", got.ExitCode)
	}
}

// TestInstallsProject installs a pyproject.toml project (no
// requirements.txt) into the venv with the stack's setuptools.
func TestInstallsProject(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/project", Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "Successfully installed hellopkg-1.0") {
		t.Errorf("stdout %q", got.Stdout)
	}
	home := lt.Extract(t, got.Droplet)
	if _, err := os.Stat(filepath.Join(home, "app/.venv/lib/python3.11/site-packages/hellopkg-1.0.dist-info")); err != nil {
		t.Errorf("droplet: %v", err)
	}
	run := stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello from an installed project\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(lt.RepoDir(t), "buildpacks", "python")
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"requirements.txt", true}, {"setup.py", true}, {"pyproject.toml", true}, {"main.py", true},
		{"lib/util.py", false}, {"index.html", false},
	} {
		out, ok := stagetest.Detect(t, dir, map[string]string{tc.file: ""})
		if ok != tc.want || (ok && out != "python") {
			t.Errorf("%s: detect = %q, %t; want %t", tc.file, out, ok, tc.want)
		}
	}
}
