// Package binary holds the tests of binary_buildpack, whose sources are the
// shell scripts in bin/. The buildpack runs a pre-built executable, never
// detects, and takes its start command from a Procfile or `cf push -c`.
package binary
