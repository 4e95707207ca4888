package tokenverify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anvilpaas/anvil/internal/tokenverify"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := tokenverify.Config{UAAURL: "https://uaa.example.com/"}
	c.Defaults()
	want := tokenverify.Config{
		UAAURL:          "https://uaa.example.com",
		Issuer:          "https://uaa.example.com/oauth/token",
		Leeway:          5 * time.Second,
		RefetchInterval: 30 * time.Second,
		CacheSize:       4096,
	}
	if c.UAAURL != want.UAAURL || c.Issuer != want.Issuer || c.Leeway != want.Leeway ||
		c.RefetchInterval != want.RefetchInterval || c.CacheSize != want.CacheSize {
		t.Errorf("Defaults() = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// An explicit issuer wins; a negative cache size stays (disabled).
	c = tokenverify.Config{UAAURL: "http://uaa", Issuer: "http://login/oauth/token", CacheSize: -1}
	c.Defaults()
	if c.Issuer != "http://login/oauth/token" || c.CacheSize != -1 {
		t.Errorf("Defaults() = %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  tokenverify.Config
		want []string // substrings of the joined error; nil means valid
	}{
		{"url only", tokenverify.Config{UAAURL: "http://127.0.0.1:8081"}, nil},
		{"issuer only", tokenverify.Config{Issuer: "https://uaa/oauth/token"}, nil},
		{"nothing", tokenverify.Config{}, []string{"issuer is required"}},
		{"relative url", tokenverify.Config{UAAURL: "uaa.example.com"}, []string{"uaa_url"}},
		{"ftp url", tokenverify.Config{UAAURL: "ftp://uaa"}, []string{"uaa_url"}},
		{"everything wrong", tokenverify.Config{UAAURL: ":", Audiences: []string{"cc", ""}, Leeway: -time.Second, RefetchInterval: -1},
			[]string{"uaa_url", "audiences[1]", "leeway", "refetch_interval"}},
		{"leeway too big", tokenverify.Config{UAAURL: "http://uaa", Leeway: time.Hour}, []string{"leeway 1h0m0s is outside"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Defaults()
			err := cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := tokenverify.New(tt.cfg, tokenverify.StaticKeys(), nil); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestNewNeedsAKeySource(t *testing.T) {
	t.Parallel()
	_, err := tokenverify.New(tokenverify.Config{Issuer: "https://uaa/oauth/token"}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "uaa_url is required") {
		t.Fatalf("err = %v", err)
	}
	if _, err := tokenverify.New(tokenverify.Config{Issuer: "https://uaa/oauth/token"}, tokenverify.StaticKeys(), nil); err != nil {
		t.Fatalf("static keys without uaa_url: %v", err)
	}
}
