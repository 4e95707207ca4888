package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Name is the stack's name, the key in the rep's stacks config.
const Name = "debian-bookworm"

// RecipeVersion is bumped whenever the build steps change in a way the
// package list does not show (users, locale, clean-up, files written), so
// that the next Build produces a new cache entry.
const RecipeVersion = 2

const (
	suite   = "bookworm"
	variant = "minbase"
	// Locale is the stack's default locale (LANG).
	Locale = "en_US.UTF-8"
	// VcapUID is the uid and gid of the vcap user apps run as.
	VcapUID = 2000
)

// Packages are installed on top of debootstrap's minbase, without their
// Recommends. They are what Cloud Foundry's stack gives apps and buildpacks:
// a shell and the usual tools, TLS roots, networking and process tools,
// time zones and locales, and the language runtimes the system buildpacks
// use (python3, nodejs, ruby with bundler) with a C/C++ toolchain and
// headers for native extensions. All are in bookworm main.
var Packages = []string{
	// base tools
	"bash", "coreutils", "procps", "file", "unzip", "zip", "git",
	"lsb-release", "apt",
	// TLS, network
	"ca-certificates", "curl", "netcat-openbsd", "iproute2",
	// time zones, locales
	"tzdata", "locales",
	// native extensions
	"gcc", "g++", "make", "libc6-dev",
	// python
	"python3", "python3-dev", "python3-pip", "python3-venv",
	// node
	"nodejs", "npm",
	// ruby
	"ruby", "ruby-dev", "bundler",
}

// RecipeHash identifies the recipe: RecipeVersion, suite, variant, locale,
// the vcap uid and the package list (order does not matter). It is the
// first 12 hex digits of a SHA-256.
func RecipeHash() string { return recipeHash(RecipeVersion, Packages) }

func recipeHash(version int, packages []string) string {
	pkgs := slices.Clone(packages)
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	h := sha256.New()
	fmt.Fprintf(h, "anvil-stack\nname=%s\nversion=%d\nsuite=%s\nvariant=%s\nlocale=%s\nuid=%d\npackages=%s\n",
		Name, version, suite, variant, Locale, VcapUID, strings.Join(pkgs, ","))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// entryName is the cache entry's directory name for a recipe hash.
func entryName(hash string) string { return Name + "-" + hash }
