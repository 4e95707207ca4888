// Package gobuildpack holds the tests of go_buildpack, whose sources are the
// shell scripts in bin/ and lib/; the Go toolchain it bundles is packed by
// package toolchain (cmd/gotoolchain) when `make buildpacks` zips it.
package gobuildpack
