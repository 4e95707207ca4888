// Package arch checks the repository's import boundaries: components import
// api/ and internal/, never each other, and shared plumbing imports no
// component.
package arch

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Module is the Go module path of the repository.
const Module = "github.com/anvilpaas/anvil"

// Components are the folders that hold one component each. A component may
// import only itself, api/ and internal/ (and its own internal/ subtree).
var Components = []string{
	"gorouter",
	"uaa",
	"cloudcontroller",
	"blobstore",
	"loggregator",
	"servicebroker",
	"diego/bbs",
	"diego/auctioneer",
	"diego/rep",
	"diego/routeemitter",
	"diego/lifecycle",
}

// Violation is one forbidden import.
type Violation struct {
	File   string // relative to the repository root
	Import string
	Reason string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s imports %s: %s", v.File, v.Import, v.Reason)
}

// componentOf returns the component a repository-relative path belongs to,
// or "" when it belongs to none.
func componentOf(rel string) string {
	rel = filepath.ToSlash(rel)
	for _, c := range Components {
		if rel == c || strings.HasPrefix(rel, c+"/") {
			return c
		}
	}
	return ""
}

// Check walks the Go files under root and returns every forbidden import.
//
// Rules:
//   - a component imports no other component;
//   - internal/ and api/ import no component;
//   - cmd/<name> may import components (it wires them), test/ may too.
func Check(root string) ([]Violation, error) {
	var out []Violation
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "tools") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("parse %s: %w", rel, err)
		}
		from := componentOf(rel)
		top := strings.SplitN(rel, "/", 2)[0]
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil || !strings.HasPrefix(p, Module+"/") {
				continue
			}
			target := strings.TrimPrefix(p, Module+"/")
			to := componentOf(target)
			switch {
			case to == "":
				continue
			case top == "internal" || top == "api":
				out = append(out, Violation{rel, p, top + "/ must not import a component"})
			case from != "" && from != to:
				out = append(out, Violation{rel, p, fmt.Sprintf("component %s must not import component %s (share through api/ or internal/)", from, to)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// RepoRoot finds the repository root by walking up from dir to go.mod.
func RepoRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
