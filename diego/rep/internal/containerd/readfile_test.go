package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

func TestReadFile(t *testing.T) {
	t.Parallel()
	r := newCell(t, NetworkHost)
	c := create(t, r, runtime.ContainerSpec{})

	// A secret on the host, at a path the container can name.
	secretDir, err := os.MkdirTemp("", "anvil-secret-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(secretDir) })
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte("HOST SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(secret, "/")
	sh(t, r, c.ID, strings.Join([]string{
		"printf 'the result' > /home/vcap/result.json",
		"ln -s /home/vcap/result.json /home/vcap/abs-link",
		"ln -s result.json /home/vcap/rel-link",
		"ln -s " + secret + " /home/vcap/to-host-abs",
		"ln -s " + rel + " /home/vcap/to-host-rel",
		"ln -s /proc/1/root" + secret + " /home/vcap/magic",
		"ln -s /proc/self/root" + secret + " /home/vcap/magic-self",
		"mkfifo /home/vcap/fifo",
		"mkdir -p " + secretDir + " && echo 'container file' > " + secret,
	}, " && "))

	tests := []struct {
		name    string
		path    string
		max     int64
		want    string
		wantErr string
	}{
		{name: "file", path: "/home/vcap/result.json", max: 100, want: "the result"},
		{name: "truncated at max", path: "/home/vcap/result.json", max: 3, want: "the"},
		{name: "relative path", path: "home/vcap/result.json", max: 100, want: "the result"},
		{name: "dot-dot stays inside", path: "/../../home/vcap/result.json", max: 100, want: "the result"},
		{name: "absolute symlink inside", path: "/home/vcap/abs-link", max: 100, want: "the result"},
		{name: "relative symlink", path: "/home/vcap/rel-link", max: 100, want: "the result"},
		// The symlinks resolve in the container, which has its own file at
		// the secret's path: never the host's.
		{name: "absolute symlink to a host path", path: "/home/vcap/to-host-abs", max: 100, want: "container file\n"},
		{name: "relative symlink out of the root", path: "/home/vcap/to-host-rel", max: 100, want: "container file\n"},
		{name: "magic link of pid 1", path: "/home/vcap/magic", max: 100, wantErr: "symbolic links"},
		// /proc/self is the reader, whom the container's procfs does not
		// show.
		{name: "magic link of self", path: "/home/vcap/magic-self", max: 100, wantErr: "no such file"},
		{name: "fifo", path: "/home/vcap/fifo", max: 100, wantErr: "not a regular file"},
		{name: "directory", path: "/home/vcap", max: 100, wantErr: "not a regular file"},
		{name: "missing", path: "/home/vcap/nope", max: 100, wantErr: "no such file"},
		{name: "zero max", path: "/home/vcap/result.json", max: 0, wantErr: "max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := r.ReadFile(ctx, c.ID, tt.path, tt.max)
			if strings.Contains(string(got), "HOST SECRET") {
				t.Fatalf("read the host's secret through %s", tt.path)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadFile(%s) = %q, %v; want an error with %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("ReadFile(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		})
	}
	if _, err := r.ReadFile(context.Background(), "no-such-container", "/etc/passwd", 10); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ReadFile in a missing container: %v, want ErrNotFound", err)
	}
}
