package routeemitter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := `
bbs:
  addresses: ["127.0.0.1:8889"]
  cert_file: ` + filepath.Join(dir, "c.pem") + `
  key_file: ` + filepath.Join(dir, "k.pem") + `
  ca_file: ` + filepath.Join(dir, "ca.pem") + `
nats:
  url: nats://127.0.0.1:4222
`
	var cfg Config
	if err := config.Parse([]byte(good), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Ops.Listen != "127.0.0.1:17011" || cfg.Emit.RegisterInterval != 20*time.Second || cfg.Emit.SyncInterval != time.Minute ||
		cfg.BBS.Attempts != 3 || cfg.BBS.RequestTimeout != 30*time.Second || cfg.BBS.EventIdleTimeout != 90*time.Second || cfg.Emit.RegisterTLSPorts {
		t.Errorf("defaults: %+v", cfg)
	}

	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty", ``, []string{"nats: url is required", "bbs:"}},
		{"bad values", good + `
emit:
  register_interval: -1s
logging:
  level: loud
`, []string{"emit.register_interval must be positive", "logging:"}},
		{"unknown key", good + "\nleader_lock: true\n", []string{"leader_lock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			err := config.Parse([]byte(tt.yaml), &c)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
