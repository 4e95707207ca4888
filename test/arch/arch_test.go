package arch

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepositoryBoundaries(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

func TestCheckFindsViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "component imports another component",
			files: map[string]string{
				"gorouter/proxy/p.go": `package proxy; import _ "github.com/anvilpaas/anvil/cloudcontroller/internal/db"`,
			},
			want: []string{"component gorouter must not import component cloudcontroller"},
		},
		{
			name: "diego components are separate",
			files: map[string]string{
				"diego/rep/r.go": `package rep; import _ "github.com/anvilpaas/anvil/diego/bbs"`,
			},
			want: []string{"component diego/rep must not import component diego/bbs"},
		},
		{
			name: "shared plumbing imports a component",
			files: map[string]string{
				"internal/x/x.go": `package x; import _ "github.com/anvilpaas/anvil/uaa"`,
			},
			want: []string{"internal/ must not import a component"},
		},
		{
			name: "allowed imports",
			files: map[string]string{
				"uaa/internal/a/a.go":    `package a; import _ "github.com/anvilpaas/anvil/uaa/internal/b"`,
				"uaa/u.go":               `package uaa; import (_ "github.com/anvilpaas/anvil/internal/config"; _ "github.com/anvilpaas/anvil/api/bbs/v1")`,
				"cmd/uaa/main.go":        `package main; import _ "github.com/anvilpaas/anvil/uaa"`,
				"test/e2e/e2e_test.go":   `package e2e; import _ "github.com/anvilpaas/anvil/cloudcontroller"`,
				"gorouter/testdata/x.go": `package x; import _ "github.com/anvilpaas/anvil/uaa"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for name, src := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			vs, err := Check(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != len(tt.want) {
				t.Fatalf("got %d violations %v, want %d", len(vs), vs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(vs[i].Reason, w) {
					t.Errorf("violation %q does not mention %q", vs[i], w)
				}
			}
		})
	}
}

// TestBinaryDependencies keeps daemons from linking what they must not: the
// router never links a database driver or the container runtime, and cells
// never link the Cloud Controller.
func TestBinaryDependencies(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("go list of every binary is slow")
	}
	forbidden := map[string][]string{
		"./cmd/gorouter": {"github.com/jackc/pgx/v5", "github.com/containerd/containerd"},
		"./cmd/rep":      {Module + "/cloudcontroller", "github.com/jackc/pgx/v5"},
		"./cmd/uaa":      {"github.com/containerd/containerd"},
	}
	wd, _ := os.Getwd()
	root, err := RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	for cmd, bad := range forbidden {
		if _, err := os.Stat(filepath.Join(root, cmd)); err != nil {
			continue // the daemon does not exist yet
		}
		out, err := exec.Command("go", "list", "-C", root, "-deps", "-json=ImportPath", cmd).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", cmd, err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			for _, b := range bad {
				if p.ImportPath == b || strings.HasPrefix(p.ImportPath, b+"/") {
					t.Errorf("%s links %s", cmd, p.ImportPath)
				}
			}
		}
	}
}
