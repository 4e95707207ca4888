package ruby_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/buildpacks/internal/stagetest"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

func buildpack(t *testing.T) lt.Buildpack {
	t.Helper()
	return lt.Buildpack{Key: "ruby_buildpack", Dir: filepath.Join(lt.RepoDir(t), "buildpacks", "ruby")}
}

// TestStagesAndRunsVendoredGem installs a gem from vendor/cache and starts
// its executable from the Procfile.
func TestStagesAndRunsVendoredGem(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/gem", Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	for _, want := range []string{
		"-----> Ruby Buildpack version 1.0.0",
		"-----> Using ruby 3.1",
		"-----> Installing gems from vendor/cache: bundle install --local (deployment, without development and test)",
		"Installing hello_server 1.0.0",
	} {
		if !strings.Contains(got.Stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	md := got.Result.LifecycleMetadata
	if got.Result.ProcessTypes["web"] != "bundle exec hello_server" || md.DetectedBuildpack != "ruby_buildpack" || md.Buildpacks[0].DetectOutput != "ruby" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	home := lt.Extract(t, got.Droplet)
	for _, p := range []string{"app/.bundle/config", "app/vendor/bundle/ruby/3.1.0/gems/hello_server-1.0.0/lib/hello_server.rb", "profile.d/ruby.sh"} {
		if _, err := os.Stat(filepath.Join(home, p)); err != nil {
			t.Errorf("droplet: %v", err)
		}
	}
	config, _ := os.ReadFile(filepath.Join(home, "app/.bundle/config"))
	if !strings.Contains(string(config), `BUNDLE_DEPLOYMENT: "true"`) || !strings.Contains(string(config), `BUNDLE_WITHOUT: "development:test"`) {
		t.Errorf(".bundle/config %q", config)
	}
	run := stagetest.Launch(t, got.Droplet, "")
	if code, body := run.Get(t, "/"); code != 200 || body != "hello from ruby 3.1.2, a vendored gem, RACK_ENV=production\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

// TestRackupByDefault stages an app without gems or Procfile: its web
// process is rackup. (Rack is not on the stack, so it is not started.)
func TestRackupByDefault(t *testing.T) {
	t.Parallel()
	got := stagetest.Stage(t, lt.Stage{App: "testdata/norackgems", Buildpacks: []lt.Buildpack{buildpack(t)}})
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if web := got.Result.ProcessTypes["web"]; web != "bundle exec rackup config.ru -p $PORT -o 0.0.0.0" {
		t.Fatalf("web %q", web)
	}
}

func TestStagingFailures(t *testing.T) {
	t.Parallel()
	noLock := t.TempDir()
	if err := os.WriteFile(filepath.Join(noLock, "Gemfile"), []byte("source \"https://rubygems.org\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, app, want string
	}{
		{"missing gem", "testdata/missinggem", "ERROR: gem rack-2.2.4 is not in vendor/cache and staging is offline; run `bundle cache` and push vendor/cache"},
		{"no lockfile", noLock, "ERROR: the app has no Gemfile.lock; run `bundle lock`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := stagetest.Stage(t, lt.Stage{App: tc.app, Buildpacks: []lt.Buildpack{buildpack(t)}})
			if got.ExitCode != 223 || !strings.Contains(got.Stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 223 and %q", got.ExitCode, got.Stderr, tc.want)
			}
		})
	}
}

// TestRelease runs bin/release directly: it needs only bash and grep.
func TestRelease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, lock, want string
	}{
		{"thin", "GEM\n  specs:\n    eventmachine (1.2.7)\n    thin (1.8.2)\n      rack (>= 1, < 3)\n", "  web: bundle exec thin start -R config.ru -e $RACK_ENV -p $PORT\n"},
		{"thin only as a dependency", "GEM\n  specs:\n    foo (1.0)\n      thin (>= 1)\n", "  web: bundle exec rackup config.ru -p $PORT -o 0.0.0.0\n"},
		{"no lockfile", "", "  web: bundle exec rackup config.ru -p $PORT -o 0.0.0.0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.lock != "" {
				if err := os.WriteFile(filepath.Join(dir, "Gemfile.lock"), []byte(tc.lock), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command("bin/release", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("bin/release: %v\n%s", err, out)
			}
			if want := "---\ndefault_process_types:\n" + tc.want; string(out) != want {
				t.Errorf("bin/release = %q, want %q", out, want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(lt.RepoDir(t), "buildpacks", "ruby")
	for file, want := range map[string]bool{"Gemfile": true, "config.ru": false, "Rakefile": false} {
		out, ok := stagetest.Detect(t, dir, map[string]string{file: ""})
		if ok != want || (ok && out != "ruby") {
			t.Errorf("%s: detect = %q, %t; want %t", file, out, ok, want)
		}
	}
}
