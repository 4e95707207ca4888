package launcher

import (
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRenderBlobstore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := layout{dir}
	if err := l.prepare(); err != nil {
		t.Fatal(err)
	}
	sec, err := loadSecrets(l)
	if err != nil {
		t.Fatal(err)
	}
	st := &state{Ports: map[string]int{"blobstore/https": 4443, "blobstore/ops": 4444}, Secrets: map[string]string{}}
	env := &Env{st: st, sec: sec, layout: l}
	cfg, err := renderBlobstore(env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Listen string `yaml:"listen"`
		TLS    struct {
			CertFile string `yaml:"cert_file"`
			CAFile   string `yaml:"ca_file"`
		} `yaml:"tls"`
		Storage struct {
			Dir string `yaml:"dir"`
		} `yaml:"storage"`
		Auth struct {
			ClientNames   []string `yaml:"client_names"`
			SharedSecrets []string `yaml:"shared_secrets"`
			SigningKeys   []struct {
				ID     string `yaml:"id"`
				Secret string `yaml:"secret"`
			} `yaml:"signing_keys"`
		} `yaml:"auth"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Listen != "127.0.0.1:4443" || doc.TLS.CertFile == "" || doc.TLS.CAFile != sec.caFile ||
		doc.Storage.Dir != filepath.Join(dir, "data", "blobstore") ||
		len(doc.Auth.ClientNames) != 1 || doc.Auth.ClientNames[0] != "cloud_controller" ||
		len(doc.Auth.SharedSecrets) != 1 || len(doc.Auth.SharedSecrets[0]) < 16 ||
		len(doc.Auth.SigningKeys) != 1 || len(doc.Auth.SigningKeys[0].Secret) < 16 {
		t.Errorf("rendered config:\n%s", out)
	}
	// Secrets are stable: the Cloud Controller's row reads the same ones.
	if env.Secret("blobstore_signing_key_1") != doc.Auth.SigningKeys[0].Secret || env.Secret("blobstore_shared_secret") != doc.Auth.SharedSecrets[0] {
		t.Error("secrets are not the state's")
	}
	if !strings.Contains(string(out), "backend: local") {
		t.Errorf("no local backend:\n%s", out)
	}
}
