package launcher_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/lifecycle/launcher"
	lt "github.com/anvilpaas/anvil/diego/lifecycle/lifecycletest"
)

func TestMain(m *testing.M) { os.Exit(lt.Main(m)) }

// stage stages app with buildpacks (skipping detection) and returns the
// extracted droplet, laid out as /home/vcap.
func stage(t *testing.T, app string, buildpacks ...string) string {
	t.Helper()
	s := lt.Stage{App: lt.Testdata(t, "apps", app), SkipDetect: true}
	for _, bp := range buildpacks {
		s.Buildpacks = append(s.Buildpacks, lt.SampleBuildpack(t, bp))
	}
	got := s.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("staging exit %d", got.ExitCode)
	}
	return lt.Extract(t, got.Droplet)
}

// launch runs the launcher binary on the droplet and returns its output.
func launch(t *testing.T, home, command string, env ...string) (string, int, error) {
	t.Helper()
	cmd := exec.Command(lt.Build(t).Launcher, filepath.Join(home, "app"), command, "{}")
	cmd.Dir = home
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("launcher output:\n%s", out)
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	return string(out), pid, err
}

func lines(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestLauncherSourcesProfilesAndSetsEnv(t *testing.T) {
	t.Parallel()
	home := stage(t, "profiled", "supplier", "final")
	out, pid, err := launch(t, home,
		`echo HOME=$HOME; echo TMPDIR=$TMPDIR; echo DEPS_DIR=$DEPS_DIR; echo ORDER=$ORDER; echo PWD=$PWD; `+
			`echo FINAL_VAR=$FINAL_VAR; echo APP_PROFILE=$APP_PROFILE; echo VCAP=$VCAP_APPLICATION; echo PID=$$`,
		"PORT=8080", "INSTANCE_INDEX=3", "INSTANCE_GUID=guid-1", `VCAP_APPLICATION={"application_name":"demo"}`)
	if err != nil {
		t.Fatalf("launcher: %v", err)
	}
	got := lines(out)
	want := map[string]string{
		"HOME":        filepath.Join(home, "app"),
		"PWD":         filepath.Join(home, "app"),
		"TMPDIR":      filepath.Join(home, "tmp"),
		"DEPS_DIR":    filepath.Join(home, "deps"),
		"ORDER":       "final:app:dotprofile", // ../profile.d, then .profile.d, then .profile
		"FINAL_VAR":   "deps at " + filepath.Join(home, "deps"),
		"APP_PROFILE": "yes",
		// Each step execs, so the command runs as the launcher's process.
		"PID": strconv.Itoa(pid),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	var vcap map[string]any
	if err := json.Unmarshal([]byte(got["VCAP"]), &vcap); err != nil {
		t.Fatalf("VCAP_APPLICATION %q: %v", got["VCAP"], err)
	}
	if vcap["application_name"] != "demo" || vcap["host"] != "0.0.0.0" || vcap["port"] != 8080.0 ||
		vcap["instance_index"] != 3.0 || vcap["instance_id"] != "guid-1" {
		t.Errorf("VCAP_APPLICATION = %v", vcap)
	}
	if !strings.HasPrefix(out, "Invoking pre-start scripts.\nInvoking start command.\n") {
		t.Errorf("output does not start with CF's launcher messages: %q", out)
	}
}

func TestLauncherUsesStagedStartCommand(t *testing.T) {
	t.Parallel()
	home := stage(t, "plain", "final")
	out, _, err := launch(t, home, "")
	if err != nil || !strings.Contains(out, "started from staging_info\n") {
		t.Fatalf("launcher with no command: %v, %q", err, out)
	}
}

func TestLauncherConfigVarsAreDefaults(t *testing.T) {
	t.Parallel()
	s := lt.Stage{App: lt.Testdata(t, "apps", "plain"), Buildpacks: []lt.Buildpack{lt.SampleBuildpack(t, "legacy")}}
	got := s.Run(t)
	if got.ExitCode != 0 {
		t.Fatalf("staging exit %d", got.ExitCode)
	}
	home := lt.Extract(t, got.Droplet)
	out, _, err := launch(t, home, "echo LEGACY_VAR=$LEGACY_VAR; echo ORDER=$ORDER")
	if err != nil || lines(out)["LEGACY_VAR"] != "it's set" || lines(out)["ORDER"] != ":legacy" {
		t.Fatalf("legacy config var / profile: %v %q", err, out)
	}
	out, _, err = launch(t, home, "echo LEGACY_VAR=$LEGACY_VAR", "LEGACY_VAR=from user")
	if err != nil || lines(out)["LEGACY_VAR"] != "from user" {
		t.Fatalf("user env must win over config_vars: %v %q", err, out)
	}
	if out, _, _ := launch(t, home, ""); !strings.Contains(out, "compiled web") {
		t.Fatalf("staged web command: %q", out)
	}
}

func TestLauncherForwardsSignals(t *testing.T) {
	t.Parallel()
	home := stage(t, "plain", "final")
	cmd := exec.Command(lt.Build(t).Launcher, filepath.Join(home, "app"),
		`trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`, "{}")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(strings.Join(rest, "\n"), "got TERM") {
			t.Fatalf("after SIGTERM: %v, output %q", err, rest)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the app did not exit on SIGTERM sent to the launcher's pid")
	}
}

func TestLauncherErrors(t *testing.T) {
	t.Parallel()
	b := lt.Build(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{name: "too few arguments", args: []string{app, "true"}, msg: "Usage:"},
		{name: "no command anywhere", args: []string{app, "", "{}"}, msg: "no start command specified or detected in droplet"},
	} {
		out, err := exec.Command(b.Launcher, tc.args...).CombinedOutput()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || !strings.Contains(string(out), tc.msg) {
			t.Errorf("%s: %v, %q", tc.name, err, out)
		}
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	app := filepath.Join(home, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	info := `{"detected_buildpack":"x","start_command":"./web","config":{"entrypoint_prefix":"bash -ex -c"}}`
	if err := os.WriteFile(filepath.Join(home, "staging_info.yml"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := launcher.Command(launcher.Config{AppDir: app}, []string{"HOME=/elsewhere", "VCAP_APPLICATION=not json", "A=b"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Args[len(e.Args)-1] != "./web" || !strings.Contains(e.Args[2], `exec bash -ex -c "$1"`) {
		t.Fatalf("args %q", e.Args)
	}
	env := strings.Join(e.Env, "\n")
	if !strings.Contains(env, "HOME="+app+"\n") || !strings.Contains(env, "VCAP_APPLICATION=not json") || !strings.Contains(env, "A=b") {
		t.Fatalf("env %q", e.Env)
	}
}
