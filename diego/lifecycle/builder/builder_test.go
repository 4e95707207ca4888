package builder_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/diego/lifecycle/builder"
	"github.com/anvilpaas/anvil/diego/lifecycle/internal/staging"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

func readFile(t *testing.T, parts ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exists(parts ...string) bool {
	_, err := os.Lstat(filepath.Join(parts...))
	return err == nil
}

func stagingInfo(t *testing.T, droplet string) staging.StagingInfo {
	t.Helper()
	info, err := staging.ParseStagingInfo([]byte(readFile(t, droplet, "staging_info.yml")))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestLegacyCompileDetectsInOrderAndReusesCache(t *testing.T) {
	t.Parallel()
	stage := lt.Stage{
		App:        lt.Testdata(t, "apps", "plain"),
		Buildpacks: []lt.Buildpack{lt.SampleBuildpack(t, "never"), lt.SampleBuildpack(t, "legacy")},
	}
	got := stage.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	// Buildpack output streams to stdout, line by line.
	if !strings.Contains(got.Stdout, "-----> Legacy compiling\nsecond line\n") {
		t.Fatalf("stdout %q lacks the compile output", got.Stdout)
	}

	// The result JSON has CF's shape.
	var raw map[string]any
	if err := json.Unmarshal(got.ResultJSON, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lifecycle_type", "lifecycle_metadata", "process_types", "execution_metadata"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("result %s lacks %q", got.ResultJSON, k)
		}
	}
	r := got.Result
	if r.LifecycleType != "buildpack" || r.ProcessTypes["web"] != "./compiled-web" {
		t.Fatalf("result %s", got.ResultJSON)
	}
	md := r.LifecycleMetadata
	if md.BuildpackKey != "legacy" || md.DetectedBuildpack != "Legacy 1.2" || len(md.Buildpacks) != 1 ||
		md.Buildpacks[0] != (builder.Buildpack{Key: "legacy", Name: "Legacy 1.2", DetectOutput: "Legacy 1.2"}) {
		t.Fatalf("lifecycle metadata %+v", md)
	}

	droplet := lt.Extract(t, got.Droplet)
	for _, p := range []string{"app/hello.txt", "app/compiled-web", "app/.profile.d/legacy.sh", "profile.d/000_config_vars.sh", "tmp", "logs", "deps"} {
		if !exists(droplet, p) {
			t.Errorf("droplet lacks %s", p)
		}
	}
	if exists(droplet, "deps", "0") {
		t.Error("legacy staging left deps/0 in the droplet")
	}
	if got := readFile(t, droplet, "app", "compiled.txt"); got != "compiled run 1\n" {
		t.Errorf("compiled.txt = %q", got)
	}
	if info := stagingInfo(t, droplet); info.DetectedBuildpack != "Legacy 1.2" || info.StartCommand != "./compiled-web" {
		t.Errorf("staging_info %+v", info)
	}
	if vars := readFile(t, droplet, "profile.d", "000_config_vars.sh"); !strings.Contains(vars, `export LEGACY_VAR='it'\''s set'`) {
		t.Errorf("config vars script %q", vars)
	}

	// The cache holds the final buildpack's cache dir; staging again from it
	// sees the previous build's files.
	cache := lt.Extract(t, got.Cache)
	if readFile(t, cache, "final", "counter") != "1\n" {
		t.Fatal("cache lacks final/counter")
	}
	// A stale entry (a buildpack no longer used) is dropped.
	if err := os.MkdirAll(filepath.Join(cache, "stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	stage.CacheDir = cache
	again := stage.Run(t)
	if again.ExitCode != 0 {
		t.Fatalf("second staging exit %d", again.ExitCode)
	}
	if got := readFile(t, lt.Extract(t, again.Droplet), "app", "compiled.txt"); got != "compiled run 2\n" {
		t.Errorf("second staging compiled.txt = %q, want run 2", got)
	}
	if exists(lt.Extract(t, again.Cache), "stale") {
		t.Error("stale cache entry kept")
	}
}

func TestMultiBuildpack(t *testing.T) {
	t.Parallel()
	got := lt.Stage{
		App:        lt.Testdata(t, "apps", "plain"),
		Buildpacks: []lt.Buildpack{lt.SampleBuildpack(t, "supplier"), lt.SampleBuildpack(t, "final")},
		SkipDetect: true,
	}.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "Supplier supplying into index 0") || !strings.Contains(got.Stdout, "Final supplying into index 1") ||
		!strings.Contains(got.Stdout, "Final finalizing index 1") {
		t.Fatalf("stdout %q", got.Stdout)
	}
	md := got.Result.LifecycleMetadata
	want := []builder.Buildpack{{Key: "supplier", Name: "supplier", Version: "0.1"}, {Key: "final", Name: "final-bp", Version: "2.0"}}
	if md.BuildpackKey != "final" || md.DetectedBuildpack != "final-bp" || len(md.Buildpacks) != 2 || md.Buildpacks[0] != want[0] || md.Buildpacks[1] != want[1] {
		t.Fatalf("lifecycle metadata %+v", md)
	}
	// launch.yml of the supplier adds a worker; release gives web.
	if pt := got.Result.ProcessTypes; pt["web"] != "./start" || pt["worker"] != "tool --work" || len(pt) != 2 {
		t.Fatalf("process types %v", pt)
	}
	droplet := lt.Extract(t, got.Droplet)
	if seen := readFile(t, droplet, "app", "deps-seen.txt"); seen != "0\n1\ntool in 0\n" {
		t.Errorf("finalize saw deps %q", seen)
	}
	for _, p := range []string{"deps/0/bin/tool", "deps/0/config.yml", "deps/1/config.yml", "profile.d/final.sh", "app/start"} {
		if !exists(droplet, p) {
			t.Errorf("droplet lacks %s", p)
		}
	}
	if info := stagingInfo(t, droplet); info.DetectedBuildpack != "final-bp" || info.StartCommand != "./start" {
		t.Errorf("staging_info %+v", info)
	}
	cache := lt.Extract(t, got.Cache)
	if !exists(cache, builder.BuildpackDirName("supplier"), "supplied-at") || !exists(cache, "final", "final-cache") {
		t.Error("cache lacks the supply or final buildpack's files")
	}
}

func TestProcfileOverridesReleaseProcessTypes(t *testing.T) {
	t.Parallel()
	got := lt.Stage{
		App:        lt.Testdata(t, "apps", "procfile"),
		Buildpacks: []lt.Buildpack{lt.SampleBuildpack(t, "final")},
	}.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if pt := got.Result.ProcessTypes; pt["web"] != "./override --port $PORT" || pt["clock"] != "./clock" || len(pt) != 2 {
		t.Fatalf("process types %v", pt)
	}
	if info := stagingInfo(t, lt.Extract(t, got.Droplet)); info.StartCommand != "./override --port $PORT" {
		t.Fatalf("start command %q", info.StartCommand)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		app        string
		buildpacks []string
		order      []string
		skipDetect bool
		code       int
		stderr     string
		stdout     string
	}{
		{name: "nothing detects", buildpacks: []string{"never", "supplier"}, code: 222,
			stderr: "None of the buildpacks detected a compatible application"},
		{name: "buildpack missing", order: []string{"ghost"}, code: 222,
			stderr: "Failed to read buildpack directory"},
		{name: "compile fails", buildpacks: []string{"fail-compile"}, code: 223,
			stderr: "Failed to compile droplet: exit status 7", stdout: "compile is failing on purpose"},
		{name: "finalize fails", buildpacks: []string{"fail-finalize"}, code: 223,
			stderr: "Failed to compile droplet: Failed to run finalize script: exit status 6"},
		{name: "release output invalid", buildpacks: []string{"fail-release"}, code: 224,
			stderr: "Failed to build droplet release: release output: invalid buildpack output"},
		{name: "release exits non-zero", buildpacks: []string{"fail-release-exit"}, code: 224,
			stderr: "release blew up\nFailed to build droplet release: exit status 3"},
		{name: "supply fails", buildpacks: []string{"fail-supply", "final"}, skipDetect: true, code: 225,
			stderr: "Failed to run all supply scripts: exit status 5"},
		{name: "supply missing", buildpacks: []string{"legacy", "final"}, skipDetect: true, code: 225,
			stderr: "does not support multi-buildpack apps"},
		{name: "bad Procfile", app: "bad-procfile", buildpacks: []string{"final"}, code: 1,
			stderr: "Failed to read command from Procfile: procfile: invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := tc.app
			if app == "" {
				app = "plain"
			}
			stage := lt.Stage{App: lt.Testdata(t, "apps", app), Order: tc.order, SkipDetect: tc.skipDetect}
			for _, bp := range tc.buildpacks {
				stage.Buildpacks = append(stage.Buildpacks, lt.SampleBuildpack(t, bp))
			}
			got := stage.Run(t)
			if got.ExitCode != tc.code {
				t.Fatalf("exit %d, want %d", got.ExitCode, tc.code)
			}
			if !strings.Contains(got.Stderr, tc.stderr) || !strings.Contains(got.Stdout, tc.stdout) {
				t.Fatalf("stderr %q / stdout %q, want %q / %q", got.Stderr, got.Stdout, tc.stderr, tc.stdout)
			}
			if exists(got.Droplet) {
				t.Fatal("a failed staging wrote a droplet")
			}
		})
	}
}

func TestFailedBuildStillRecordsBuildpacks(t *testing.T) {
	t.Parallel()
	got := lt.Stage{
		App:        lt.Testdata(t, "apps", "plain"),
		Buildpacks: []lt.Buildpack{lt.SampleBuildpack(t, "fail-compile")},
	}.Run(t)
	if got.ExitCode != builder.ExitCompileFailed {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if got.Result.LifecycleMetadata.BuildpackKey != "fail-compile" || got.Result.LifecycleType != "buildpack" {
		t.Fatalf("result %s", got.ResultJSON)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := builder.New(builder.Config{}, builder.Deps{})
	if err == nil || !strings.Contains(err.Error(), "-buildpackOrder") || !strings.Contains(err.Error(), "-buildDir") {
		t.Fatalf("New(empty) = %v", err)
	}
}

func TestBuildpackDirName(t *testing.T) {
	t.Parallel()
	// md5("binary_buildpack"), as CF's staging task names the directory.
	if got := builder.BuildpackDirName("binary_buildpack"); got != "a7347ba2cca93a0c5033dac10d7a5bba" {
		t.Fatalf("BuildpackDirName = %q", got)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		nil: 0, builder.ErrNoAppDetected: 222, builder.ErrCompileFailed: 223, builder.ErrReleaseFailed: 224,
		builder.ErrSupplyFailed: 225, builder.ErrNoSupply: 225, builder.ErrFinalize: 226, os.ErrNotExist: 1,
	} {
		if got := builder.ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}
