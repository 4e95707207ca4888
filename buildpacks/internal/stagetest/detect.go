package stagetest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Detect runs a buildpack's bin/detect on the host (it needs only bash) on
// a new app made of files (name to content) and returns its trimmed output
// and whether it detected the app.
func Detect(t testing.TB, buildpackDir string, files map[string]string) (string, bool) {
	t.Helper()
	app := t.TempDir()
	for name, content := range files {
		p := filepath.Join(app, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(filepath.Join(buildpackDir, "bin", "detect"), app).Output()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("bin/detect: %v", err)
	}
	return strings.TrimSpace(string(out)), err == nil
}
