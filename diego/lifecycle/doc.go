// Package lifecycle is the home of Anvil's buildpack app lifecycle: the
// static programs the rep mounts read-only at /tmp/lifecycle in every
// container, modelled on Cloud Foundry's buildpackapplifecycle.
//
//   - builder (cmd/builder, library in builder/) stages an app in a staging
//     task: it runs buildpacks and writes the droplet, the build-artifacts
//     cache and the staging result JSON.
//   - launcher (cmd/launcher, library in launcher/) starts an app process or
//     task from an extracted droplet.
//   - buildpackzip (cmd/buildpackzip) packs buildpacks/* into the system
//     buildpack zips.
//
// The builder and launcher run inside app containers on the stack, so they
// are built with CGO_ENABLED=0 and link only the standard library and a
// YAML parser (deps_test.go enforces it). docs/staging.md describes the
// flags, the droplet layout and the result JSON.
package lifecycle
