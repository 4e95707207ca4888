package nodejs_test

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
	return lt.Buildpack{Key: "nodejs_buildpack", Dir: filepath.Join(lt.RepoDir(t), "buildpacks", "nodejs")}
}

func TestStagesAndRunsApps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		app, web, stdout, body string
	}{
		{"hello", "npm start", "-----> No dependencies to install", "hello from node v18"},
		{"serverjs", "node server.js", "-----> No dependencies to install", "hello from server.js\n"},
		{"withmodules", "npm start", "-----> Using the committed node_modules", "hello, vcap, from a committed node module\n"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			t.Parallel()
			got := stagetest.Stage(t, lt.Stage{App: filepath.Join("testdata", tc.app), Buildpacks: []lt.Buildpack{buildpack(t)}})
			if got.ExitCode != 0 {
				t.Fatalf("exit %d", got.ExitCode)
			}
			for _, want := range []string{"-----> Node.js Buildpack version 1.0.0", "-----> Using node v18", tc.stdout} {
				if !strings.Contains(got.Stdout, want) {
					t.Errorf("stdout lacks %q", want)
				}
			}
			md := got.Result.LifecycleMetadata
			if got.Result.ProcessTypes["web"] != tc.web || md.DetectedBuildpack != "nodejs_buildpack" || md.Buildpacks[0].DetectOutput != "nodejs" {
				t.Fatalf("result %s", got.ResultJSON)
			}
			home := lt.Extract(t, got.Droplet)
			if _, err := os.Stat(filepath.Join(home, "profile.d", "nodejs.sh")); err != nil {
				t.Errorf("droplet: %v", err)
			}
			run := stagetest.Launch(t, got.Droplet, "")
			if code, body := run.Get(t, "/"); code != 200 || !strings.HasPrefix(body, tc.body) {
				t.Errorf("GET / = %d %q, want %q", code, body, tc.body)
			}
			if tc.app == "hello" {
				if _, body := run.Get(t, "/"); !strings.Contains(body, "NODE_ENV=production") {
					t.Errorf("GET / = %q, want NODE_ENV=production", body)
				}
			}
		})
	}
}

func TestMissingDependencyFails(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/missingdep", Buildpacks: []lt.Buildpack{buildpack(t)}})
	want := "ERROR: npm could not install the dependencies offline (left-pad is not in the npm cache); staging has no network: run `npm install` and push the app with its node_modules"
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

func TestDetect(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(lt.RepoDir(t), "buildpacks", "nodejs")
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"package.json", true}, {"server.js", true}, {"index.js", false}, {"lib/server.js", false},
	} {
		out, ok := stagetest.Detect(t, dir, map[string]string{tc.file: "{}"})
		if ok != tc.want || (ok && out != "nodejs") {
			t.Errorf("%s: detect = %q, %t; want %t", tc.file, out, ok, tc.want)
		}
	}
}
