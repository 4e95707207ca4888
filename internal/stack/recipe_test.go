package stack

import (
	"regexp"
	"slices"
	"testing"
)

func TestRecipeHash(t *testing.T) {
	t.Parallel()
	base := recipeHash(1, []string{"bash", "curl", "ruby"})
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(base) {
		t.Fatalf("hash %q is not 12 hex digits", base)
	}
	tests := []struct {
		name     string
		version  int
		packages []string
		same     bool
	}{
		{"identical", 1, []string{"bash", "curl", "ruby"}, true},
		{"order does not matter", 1, []string{"ruby", "bash", "curl"}, true},
		{"duplicates do not matter", 1, []string{"bash", "curl", "curl", "ruby"}, true},
		{"package added", 1, []string{"bash", "curl", "ruby", "zip"}, false},
		{"package removed", 1, []string{"bash", "curl"}, false},
		{"package renamed", 1, []string{"bash", "curl", "ruby3"}, false},
		{"names are not concatenated", 1, []string{"bash", "curlruby"}, false},
		{"recipe version bumped", 2, []string{"bash", "curl", "ruby"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := recipeHash(tt.version, tt.packages)
			if (got == base) != tt.same {
				t.Errorf("recipeHash(%d, %v) = %s, base %s: same = %v, want %v", tt.version, tt.packages, got, base, got == base, tt.same)
			}
		})
	}
}

func TestRecipeHashDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	pkgs := []string{"zip", "bash", "bash"}
	recipeHash(1, pkgs)
	if !slices.Equal(pkgs, []string{"zip", "bash", "bash"}) {
		t.Errorf("recipeHash changed its input: %v", pkgs)
	}
}

func TestPackages(t *testing.T) {
	t.Parallel()
	if RecipeHash() != recipeHash(RecipeVersion, Packages) {
		t.Error("RecipeHash does not hash the current recipe")
	}
	seen := map[string]bool{}
	for _, p := range Packages {
		if seen[p] {
			t.Errorf("package %s listed twice", p)
		}
		seen[p] = true
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`).MatchString(p) {
			t.Errorf("%q is not a Debian package name", p)
		}
	}
	for _, want := range []string{"bash", "ca-certificates", "locales", "python3", "nodejs", "ruby", "bundler", "gcc", "make"} {
		if !seen[want] {
			t.Errorf("the recipe lacks %s", want)
		}
	}
}
