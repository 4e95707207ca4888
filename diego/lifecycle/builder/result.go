package builder

import "github.com/anvilpaas/anvil/diego/lifecycle/internal/staging"

// Result is the staging result JSON the builder writes to OutputMetadata,
// in the shape of Cloud Foundry's buildpack StagingResult, which the Cloud
// Controller reads when the staging task completes.
type Result struct {
	LifecycleType     string            `json:"lifecycle_type"`
	LifecycleMetadata LifecycleMetadata `json:"lifecycle_metadata"`
	ProcessTypes      map[string]string `json:"process_types"`
	ExecutionMetadata string            `json:"execution_metadata"`
}

// LifecycleMetadata says which buildpacks staged the droplet.
type LifecycleMetadata struct {
	// BuildpackKey is the key of the last (final) buildpack.
	BuildpackKey string `json:"buildpack_key,omitempty"`
	// DetectedBuildpack is the final buildpack's name.
	DetectedBuildpack string `json:"detected_buildpack"`
	// Buildpacks lists every buildpack that ran, the final one last.
	Buildpacks []Buildpack `json:"buildpacks"`
}

// Buildpack describes one buildpack that ran. Name and Version come from
// the deps/<idx>/config.yml the buildpack wrote; without a name, a detected
// buildpack is named by its bin/detect output.
type Buildpack struct {
	Key          string                   `json:"key"`
	Name         string                   `json:"name"`
	Version      string                   `json:"version,omitempty"`
	DetectOutput string                   `json:"detect_output,omitempty"`
	Config       *staging.BuildpackConfig `json:"config,omitempty"`
}
