package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/internal/testenv"
)

func TestAvailable(t *testing.T) {
	t.Parallel()
	env := testenv.Containerd(t)
	notSocket := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noPlugins := t.TempDir()
	tests := []struct {
		name string
		edit func(*Config)
		// want are substrings of the error; none means no error.
		want []string
	}{
		{name: "host mode", edit: func(*Config) {}},
		{name: "bridge mode", edit: func(c *Config) { c.Network.Mode = NetworkBridge }},
		{name: "no socket", edit: func(c *Config) { c.Socket = "/run/nowhere/containerd.sock" },
			want: []string{"containerd socket not found at /run/nowhere/containerd.sock"}},
		{name: "socket path is no socket", edit: func(c *Config) { c.Socket = notSocket },
			want: []string{"containerd at " + notSocket + " does not answer within 2s"}},
		{name: "no init", edit: func(c *Config) { c.InitPath = "/usr/bin/no-catatonit" },
			want: []string{"init binary (catatonit) not usable at /usr/bin/no-catatonit"}},
		{name: "no CNI plugins", edit: func(c *Config) { c.Network.Mode = NetworkBridge; c.Network.CNIBinDir = noPlugins },
			want: []string{"CNI plugin bridge not usable at " + noPlugins + "/bridge", "CNI plugin portmap", "CNI plugin host-local", "CNI plugin loopback"}},
		{name: "every problem at once", edit: func(c *Config) { c.Socket = "/run/nowhere.sock"; c.InitPath = "/nope" },
			want: []string{"containerd socket not found", "init binary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Socket: env.Socket, Namespace: env.Namespace, StateDir: t.TempDir()}
			tt.edit(&cfg)
			cfg.Defaults()
			r, err := New(cfg, testenv.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = r.Available(context.Background())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Available: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Available succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
