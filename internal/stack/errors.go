package stack

import "errors"

var (
	// ErrNotRoot means Build was called without root privileges, which
	// debootstrap and chroot need.
	ErrNotRoot = errors.New("building the stack needs root (debootstrap and chroot)")
	// ErrNoDebootstrap means the debootstrap program is not installed.
	ErrNoDebootstrap = errors.New("debootstrap not found: apt-get install debootstrap")
	// ErrMirrorUnreachable means the Debian mirror did not serve the suite's
	// Release file.
	ErrMirrorUnreachable = errors.New("debian mirror unreachable")
	// ErrNotBuilt means the cache holds no finished build of the current
	// recipe.
	ErrNotBuilt = errors.New("stack not built")
	// ErrNoMirror means no mirror was given and none could be read from the
	// apt sources.
	ErrNoMirror = errors.New("no debian mirror")
)
