// Package lifecycletest helps tests run the real lifecycle programs: it
// builds the builder, the launcher and the staticfile server once per test
// binary (statically, as they ship), lays buildpacks out the way the staging
// task does, stages apps and extracts droplets.
package lifecycletest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anvilpaas/anvil/diego/lifecycle/builder"
	"github.com/anvilpaas/anvil/diego/lifecycle/internal/targz"
)

// Bins are the built programs.
type Bins struct {
	Builder          string
	Launcher         string
	StaticfileServer string
}

var (
	buildOnce sync.Once
	bins      Bins
	binDir    string
	buildErr  error
)

// Main runs the tests and removes the built programs; call it from TestMain
// as os.Exit(lifecycletest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// Build builds the programs once per test binary with CGO_ENABLED=0.
func Build(t testing.TB) Bins {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lifecycle-bins")
		if buildErr != nil {
			return
		}
		const mod = "github.com/anvilpaas/anvil/"
		cmd := exec.Command("go", "build", "-o", binDir+"/",
			mod+"diego/lifecycle/cmd/builder", mod+"diego/lifecycle/cmd/launcher")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		server := filepath.Join(binDir, "staticfile-server")
		cmd = exec.Command("go", "build", "-o", server, mod+"buildpacks/staticfile/server")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		bins = Bins{
			Builder:          filepath.Join(binDir, "builder"),
			Launcher:         filepath.Join(binDir, "launcher"),
			StaticfileServer: server,
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

// RepoDir returns the repository root (the directory holding go.mod).
func RepoDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// CopyDir copies src to dst (which must not exist), keeping modes and
// symlinks.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

// Buildpack is a buildpack to lay out for the builder.
type Buildpack struct {
	Key string // the key in -buildpackOrder
	Dir string // its source directory
}

// Staticfile returns the staticfile buildpack from the repository, with the
// server built into lib/ as `make buildpacks` does.
func Staticfile(t testing.TB) Buildpack {
	t.Helper()
	b := Build(t)
	dir := filepath.Join(t.TempDir(), "staticfile")
	CopyDir(t, filepath.Join(RepoDir(t), "buildpacks", "staticfile"), dir)
	if err := os.RemoveAll(filepath.Join(dir, "server")); err != nil {
		t.Fatal(err)
	}
	CopyDir(t, b.StaticfileServer, filepath.Join(dir, "lib", "staticfile-server"))
	return Buildpack{Key: "staticfile_buildpack", Dir: dir}
}

// Binary returns the binary buildpack from the repository.
func Binary(t testing.TB) Buildpack {
	t.Helper()
	return Buildpack{Key: "binary_buildpack", Dir: filepath.Join(RepoDir(t), "buildpacks", "binary")}
}

// Stage describes one builder run.
type Stage struct {
	App        string      // app source directory, copied before staging
	Buildpacks []Buildpack // laid out under the buildpacks dir
	Order      []string    // -buildpackOrder; the keys of Buildpacks if empty
	SkipDetect bool
	CacheDir   string // the extracted previous cache; empty for a fresh one
}

// Staged is what a builder run produced.
type Staged struct {
	ExitCode   int
	Stdout     string
	Stderr     string
	Result     builder.Result // decoded result JSON, when written
	ResultJSON []byte
	Droplet    string // the droplet tgz, when written
	Cache      string // the build-artifacts cache tgz, when written
}

// Run runs the builder binary on a copy of s.App.
func (s Stage) Run(t testing.TB) Staged {
	t.Helper()
	b := Build(t)
	work := t.TempDir()
	buildDir := filepath.Join(work, "app")
	CopyDir(t, s.App, buildDir)
	bpDir := filepath.Join(work, "buildpacks")
	order := s.Order
	for _, bp := range s.Buildpacks {
		CopyDir(t, bp.Dir, filepath.Join(bpDir, builder.BuildpackDirName(bp.Key)))
		if len(s.Order) == 0 {
			order = append(order, bp.Key)
		}
	}
	cache := s.CacheDir
	if cache == "" {
		cache = filepath.Join(work, "cache")
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := Staged{
		Droplet: filepath.Join(work, "out", "droplet.tgz"),
		Cache:   filepath.Join(work, "out", "cache.tgz"),
	}
	result := filepath.Join(work, "out", "result.json")
	cmd := exec.Command(b.Builder,
		"-buildDir", buildDir,
		"-buildpacksDir", bpDir,
		"-buildpackOrder", strings.Join(order, ","),
		"-buildArtifactsCacheDir", cache,
		"-outputDroplet", out.Droplet,
		"-outputBuildArtifactsCache", out.Cache,
		"-outputMetadata", result,
		fmt.Sprintf("-skipDetect=%t", s.SkipDetect),
	)
	cmd.Dir = work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run builder: %v", err)
	}
	out.Stdout, out.Stderr = stdout.String(), stderr.String()
	t.Logf("builder exit %d\nstdout:\n%s\nstderr:\n%s", out.ExitCode, out.Stdout, out.Stderr)
	if data, err := os.ReadFile(result); err == nil {
		out.ResultJSON = data
		if err := json.Unmarshal(data, &out.Result); err != nil {
			t.Fatalf("result JSON %s: %v", data, err)
		}
	}
	return out
}

// Extract unpacks a tgz into a new temporary directory and returns it.
func Extract(t testing.TB, tgz string) string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	if err := targz.Extract(f, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Testdata returns a path under this package's testdata: sample apps in
// apps/ and sample buildpacks in buildpacks/.
func Testdata(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{RepoDir(t), "diego", "lifecycle", "lifecycletest", "testdata"}, parts...)...)
}

// SampleBuildpack returns the sample buildpack testdata/buildpacks/<name>,
// keyed by its name.
func SampleBuildpack(t testing.TB, name string) Buildpack {
	t.Helper()
	return Buildpack{Key: name, Dir: Testdata(t, "buildpacks", name)}
}
