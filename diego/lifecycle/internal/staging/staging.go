// Package staging holds the files the builder and launcher exchange through
// a droplet, and the YAML the builder reads from buildpacks: the output of
// bin/release, a buildpack's deps/<idx>/config.yml and launch.yml, and the
// droplet's staging_info.yml.
//
// Everything parsed here comes from buildpacks or apps and is untrusted: the
// parsers reject what does not have the expected shape instead of guessing.
package staging

import (
	"errors"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// StagingInfoFile is the name of the droplet's top-level metadata file.
const StagingInfoFile = "staging_info.yml"

// ErrInvalid is wrapped by every parse error in this package.
var ErrInvalid = errors.New("invalid buildpack output")

// Release is the YAML a buildpack's bin/release prints.
type Release struct {
	// DefaultProcessTypes maps process type to start command.
	DefaultProcessTypes map[string]string `yaml:"default_process_types"`
	// ConfigVars are environment variables the legacy API lets a buildpack
	// set for the app (Heroku's convention).
	ConfigVars map[string]string `yaml:"config_vars"`
}

// envName is what ConfigVars keys must look like to become shell variables.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseRelease parses bin/release output. Empty output is an empty release.
func ParseRelease(data []byte) (Release, error) {
	var r Release
	if err := yaml.Unmarshal(data, &r); err != nil {
		return Release{}, fmt.Errorf("release output: %w: %v", ErrInvalid, err)
	}
	for k := range r.DefaultProcessTypes {
		if k == "" {
			return Release{}, fmt.Errorf("release output: %w: empty process type", ErrInvalid)
		}
	}
	for k := range r.ConfigVars {
		if !envName.MatchString(k) {
			return Release{}, fmt.Errorf("release output: %w: config var %q is not a valid environment variable name", ErrInvalid, k)
		}
	}
	return r, nil
}

// BuildpackConfig is the optional config a buildpack records about itself.
type BuildpackConfig struct {
	EntrypointPrefix string `json:"entrypoint_prefix,omitempty" yaml:"entrypoint_prefix,omitempty"`
}

// DepsConfig is deps/<idx>/config.yml, written by current-API buildpacks.
type DepsConfig struct {
	Name    string           `yaml:"name"`
	Version string           `yaml:"version"`
	Config  *BuildpackConfig `yaml:"config"`
}

// ParseDepsConfig parses deps/<idx>/config.yml.
func ParseDepsConfig(data []byte) (DepsConfig, error) {
	var c DepsConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return DepsConfig{}, fmt.Errorf("config.yml: %w: %v", ErrInvalid, err)
	}
	return c, nil
}

// Process is one entry of a buildpack's deps/<idx>/launch.yml.
type Process struct {
	Type    string `yaml:"type"`
	Command string `yaml:"command"`
}

// ParseLaunch parses deps/<idx>/launch.yml ({processes: [{type, command}]}).
func ParseLaunch(data []byte) ([]Process, error) {
	var l struct {
		Processes []Process `yaml:"processes"`
	}
	if err := yaml.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("launch.yml: %w: %v", ErrInvalid, err)
	}
	for _, p := range l.Processes {
		if p.Type == "" {
			return nil, fmt.Errorf("launch.yml: %w: process without a type", ErrInvalid)
		}
	}
	return l.Processes, nil
}

// StagingInfo is the droplet's staging_info.yml. The builder writes it as
// JSON, which is also YAML, as Cloud Foundry does.
type StagingInfo struct {
	DetectedBuildpack string           `json:"detected_buildpack" yaml:"detected_buildpack"`
	StartCommand      string           `json:"start_command" yaml:"start_command"`
	Config            *BuildpackConfig `json:"config,omitempty" yaml:"config,omitempty"`
}

// EntrypointPrefix is the command the launcher runs the start command
// under, "bash -c" unless the buildpack set one.
func (s StagingInfo) EntrypointPrefix() string {
	if s.Config != nil && s.Config.EntrypointPrefix != "" {
		return s.Config.EntrypointPrefix
	}
	return "bash -c"
}

// ParseStagingInfo parses staging_info.yml (YAML or JSON).
func ParseStagingInfo(data []byte) (StagingInfo, error) {
	var s StagingInfo
	if err := yaml.Unmarshal(data, &s); err != nil {
		return StagingInfo{}, fmt.Errorf("%s: %w: %v", StagingInfoFile, ErrInvalid, err)
	}
	return s, nil
}
