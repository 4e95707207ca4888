// Package e2e is the platform's end-to-end suite: it builds every daemon,
// starts the whole platform with the launcher (as `anvil dev up` does) in a
// temporary state directory on free ports, and drives it from outside: over
// the BBS API, through the gorouter, and through log-cache. It needs root,
// containerd and runc (`.ci/run` installs them); without them it skips,
// except in CI, where it fails.
package e2e
