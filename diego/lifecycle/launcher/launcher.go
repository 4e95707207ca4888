// Package launcher is the library behind the lifecycle's launcher program,
// which starts an app process or task inside a container the way Cloud
// Foundry's buildpackapplifecycle launcher does.
//
// The droplet is extracted at /home/vcap (app in /home/vcap/app). The
// launcher sets HOME to the app dir, TMPDIR to ../tmp and DEPS_DIR to
// ../deps, fills VCAP_APPLICATION's host, port, instance_id and
// instance_index from the container env, then replaces itself with bash
// running a short script that sources, in order, ../profile.d/* (scripts
// buildpacks wrote), .profile.d/* (the app's and legacy buildpacks') and
// .profile, and finally execs the start command with `bash -c` (or the
// final buildpack's entrypoint prefix). Every step is an exec, so the app
// ends up with the launcher's pid and receives the container's signals
// directly.
package launcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/anvilpaas/anvil/diego/lifecycle/internal/staging"
)

// Config says what to launch.
type Config struct {
	// AppDir is the app's directory, /home/vcap/app in a container.
	AppDir string
	// StartCommand is the command to run; empty means the start command
	// recorded in the droplet's staging_info.yml.
	StartCommand string
}

// ErrNoCommand is returned when neither Config nor the droplet gives a
// start command.
var ErrNoCommand = errors.New("no start command specified or detected in droplet")

// Exec is the process the launcher replaces itself with.
type Exec struct {
	Path string
	Args []string
	Env  []string
}

// script is run by bash with $1 the app dir and $2 the start command.
// %s is the entrypoint, "bash -c" unless the buildpack set a prefix.
const script = `cd "$1" || exit 1

echo 'Invoking pre-start scripts.'
for env_file in ../profile.d/* .profile.d/*; do
  if [ -f "$env_file" ]; then
    source "$env_file"
  fi
done
if [ -f .profile ]; then
  source .profile
fi
unset env_file

shift
echo 'Invoking start command.'
exec %s "$1"
`

// Command works out what to exec for cfg, given the current environment
// (os.Environ form).
func Command(cfg Config, environ []string) (Exec, error) {
	dir, err := filepath.Abs(cfg.AppDir)
	if err != nil {
		return Exec{}, fmt.Errorf("launcher: app dir: %w", err)
	}
	info, err := readStagingInfo(filepath.Join(dir, "..", staging.StagingInfoFile))
	if err != nil {
		return Exec{}, fmt.Errorf("launcher: %w", err)
	}
	command := cfg.StartCommand
	if command == "" {
		command = info.StartCommand
	}
	if command == "" {
		return Exec{}, ErrNoCommand
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		bash = "/bin/bash"
	}
	env := newEnv(environ)
	env.set("HOME", dir)
	env.set("TMPDIR", filepath.Join(filepath.Dir(dir), "tmp"))
	env.set("DEPS_DIR", filepath.Join(filepath.Dir(dir), "deps"))
	if v, ok := vcapApplication(env); ok {
		env.set("VCAP_APPLICATION", v)
	}
	return Exec{
		Path: bash,
		Args: []string{"bash", "-c", fmt.Sprintf(script, info.EntrypointPrefix()), "launcher", dir, command},
		Env:  env.list(),
	}, nil
}

// Run replaces the current process with the app. It returns only on error.
func Run(cfg Config) error {
	e, err := Command(cfg, os.Environ())
	if err != nil {
		return err
	}
	if err := syscall.Exec(e.Path, e.Args, e.Env); err != nil {
		return fmt.Errorf("launcher: exec %s: %w", e.Path, err)
	}
	return nil
}

func readStagingInfo(path string) (staging.StagingInfo, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return staging.StagingInfo{}, nil
	}
	if err != nil {
		return staging.StagingInfo{}, err
	}
	return staging.ParseStagingInfo(data)
}

// vcapApplication fills VCAP_APPLICATION's host, instance_id, port and
// instance_index from the container env, as CF's launcher does. It reports
// false when VCAP_APPLICATION is unset or not a JSON object.
func vcapApplication(env *envList) (string, bool) {
	var app map[string]any
	if err := json.Unmarshal([]byte(env.get("VCAP_APPLICATION")), &app); err != nil || app == nil {
		return "", false
	}
	app["host"] = "0.0.0.0"
	app["instance_id"] = env.get("INSTANCE_GUID")
	if port, err := strconv.Atoi(env.get("PORT")); err == nil {
		app["port"] = port
	}
	if idx, err := strconv.Atoi(env.get("INSTANCE_INDEX")); err == nil {
		app["instance_index"] = idx
	}
	out, err := json.Marshal(app)
	if err != nil {
		return "", false
	}
	return string(out), true
}

// envList is an ordered environment with last-wins lookups.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnv(kvs []string) *envList {
	e := &envList{vals: map[string]string{}}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			e.set(k, v)
		}
	}
	return e
}

func (e *envList) get(k string) string { return e.vals[k] }

func (e *envList) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}
