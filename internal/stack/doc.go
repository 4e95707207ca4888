// Package stack builds Anvil's debian-bookworm stack: the root filesystem
// every app and staging container runs on, shared read-only by the rep.
//
// # Build
//
// Build runs debootstrap (variant minbase, suite bookworm) into a fresh
// directory next to the cache entry, installs the recipe's packages with
// apt-get inside a chroot, generates the en_US.UTF-8 locale, adds the vcap
// user (uid and gid 2000, home /home/vcap), strips apt caches and lists,
// docs and logs (keeping only the standard nodes in /dev), and writes
// packages.txt (dpkg-query -W) and stack.json.
// Only then is the directory renamed to its final name,
//
//	<cache dir>/debian-bookworm-<recipe hash>/
//	    rootfs/        the root filesystem (give this to the rep)
//	    packages.txt   every installed package and its version
//	    stack.json     the stamp: name, recipe hash, built_at, size, …
//
// and the symlink <cache dir>/debian-bookworm is pointed at it. A build that
// did not finish leaves no entry with the final name, so Find never returns
// it; the next Build removes such leftovers.
//
// The recipe hash (RecipeHash) covers RecipeVersion, the suite, the variant
// and the package list: changing the recipe yields a new entry, and Build
// reuses an entry whose hash matches unless Options.Force is set.
//
// # Mounts and cancellation
//
// /proc is mounted inside the chroot only while apt-get runs and is always
// unmounted, also when ctx is cancelled or a step fails. Before a failed
// build's directory is removed, every mount found under it (for example one
// a killed debootstrap left behind) is unmounted; a directory that still
// has a mount under it is never removed.
//
// # Concurrency
//
// Builds in the same cache directory are serialised by an flock on
// <cache dir>/.lock. Find takes no lock: it only reads finished entries,
// which are never modified after their rename.
package stack
