package staticfile_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestStagesAndServesSite(t *testing.T) {
	t.Parallel()
	got := lt.Stage{
		App:        "testdata/site",
		Buildpacks: []lt.Buildpack{lt.Binary(t), lt.Staticfile(t)},
	}.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d", got.ExitCode)
	}
	if !strings.Contains(got.Stdout, "-----> Staticfile Buildpack version 1.0.0") ||
		!strings.Contains(got.Stdout, "Serving public (directory listing on, pushstate on)") {
		t.Errorf("stdout %q", got.Stdout)
	}
	md := got.Result.LifecycleMetadata
	if got.Result.ProcessTypes["web"] != "./.staticfile/server" || md.DetectedBuildpack != "staticfile_buildpack" ||
		md.BuildpackKey != "staticfile_buildpack" || md.Buildpacks[0].DetectOutput != "staticfile" {
		t.Fatalf("result %s", got.ResultJSON)
	}

	run := lt.Launch(t, lt.Extract(t, got.Droplet), "")
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/", "<h1>spa home</h1>", 200},
		{"/users/42", "<h1>spa home</h1>", 200}, // pushstate
		{"/docs/guide.txt", "guide", 200},
		{"/docs/", `<a href="guide.txt">`, 200}, // directory: visible
		{"/css/app.css", "color: red", 200},
		{"/.staticfile/server", "", 404},
	} {
		code, body := get(t, run.URL+tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	// Only root: public is served; the app's top level is not.
	if code, body := get(t, run.URL+"/README.md"); strings.Contains(body, "not served") {
		t.Errorf("GET /README.md = %d %q served a file outside root", code, body)
	}
	if !strings.Contains(run.Output(), `"GET /docs/guide.txt" 200`) {
		t.Errorf("no access log line in %q", run.Output())
	}
}

func TestBadRootFailsStaging(t *testing.T) {
	t.Parallel()
	got := lt.Stage{App: "testdata/bad-root", Buildpacks: []lt.Buildpack{lt.Staticfile(t)}}.Run(t)
	if got.ExitCode != 223 || !strings.Contains(got.Stderr, `the Staticfile's root "missing" is not a directory of the app`) {
		t.Fatalf("exit %d, stderr %q", got.ExitCode, got.Stderr)
	}
}

func TestNoStaticfileIsNotDetected(t *testing.T) {
	t.Parallel()
	got := lt.Stage{App: "testdata/site/public", Buildpacks: []lt.Buildpack{lt.Staticfile(t)}}.Run(t)
	if got.ExitCode != 222 {
		t.Fatalf("exit %d, want 222", got.ExitCode)
	}
}
