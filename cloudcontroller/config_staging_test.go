package cloudcontroller

import (
	"strings"
	"testing"
)

func TestStagingConfig(t *testing.T) {
	t.Parallel()
	base := func() Config {
		c := Config{ExternalURL: "https://api.example.com", UAA: UAAConfig{URL: "https://uaa.example.com"}}
		c.Database.DSN = "postgres://localhost/cc"
		return c
	}
	blob := BlobstoreConfig{URL: "https://blobstore.internal:8093", SigningKey: SigningKeyConfig{ID: "key-1", Secret: "0123456789abcdef"}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"staging off", func(*Config) {}, ""},
		{"staging on", func(c *Config) {
			c.Blobstore = blob
			c.Staging.BBS.Address = "bbs.internal:8889"
			c.Staging.BBS.CertFile, c.Staging.BBS.KeyFile, c.Staging.BBS.CAFile = "cc.crt", "cc.key", "ca.crt"
			c.Staging.CallbackSecret = "0123456789abcdef"
		}, ""},
		{"no secret", func(c *Config) {
			c.Blobstore = blob
			c.Staging.BBS.Address = "bbs.internal:8889"
			c.Staging.BBS.CertFile, c.Staging.BBS.KeyFile, c.Staging.BBS.CAFile = "cc.crt", "cc.key", "ca.crt"
		}, "staging.callback_secret must be at least 16 bytes"},
		{"no signing key", func(c *Config) {
			c.Blobstore = BlobstoreConfig{URL: blob.URL}
			c.Staging.BBS.Address = "bbs.internal:8889"
			c.Staging.BBS.CertFile, c.Staging.BBS.KeyFile, c.Staging.BBS.CAFile = "cc.crt", "cc.key", "ca.crt"
			c.Staging.CallbackSecret = "0123456789abcdef"
		}, "staging needs blobstore.url and blobstore.signing_key"},
		{"bad blobstore url", func(c *Config) { c.Blobstore.URL = "blobstore:8093" }, "blobstore.url"},
		{"short signing secret", func(c *Config) {
			c.Blobstore = blob
			c.Blobstore.SigningKey.Secret = "short"
		}, "blobstore.signing_key.secret"},
		{"negative limits", func(c *Config) { c.Packages.MaxBytes = -1 }, "packages limits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tc.edit(&c)
			c.Defaults()
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// staging.bbs defaults to diego.bbs once a callback secret is set.
	c := base()
	c.Blobstore = blob
	c.Diego.BBS.Address = "bbs.internal:8889"
	c.Staging.CallbackSecret = "0123456789abcdef"
	c.Defaults()
	if c.Staging.BBS.Address != "bbs.internal:8889" || c.Staging.CallbackURL != c.ExternalURL {
		t.Errorf("staging defaults: %+v", c.Staging)
	}
}
