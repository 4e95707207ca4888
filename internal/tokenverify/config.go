package tokenverify

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
)

// Defaults applied by [Config.Defaults].
const (
	DefaultLeeway          = 5 * time.Second
	DefaultRefetchInterval = 30 * time.Second
	// DefaultMaxKeyAge is how long a fetched key set is used before it is
	// refetched in the background.
	DefaultMaxKeyAge = 10 * time.Minute
	DefaultCacheSize = 4096
	// MaxLeeway bounds Leeway: a larger clock skew is a broken clock.
	MaxLeeway = 5 * time.Minute
)

// Config is the token-verification section of a daemon's configuration.
type Config struct {
	// UAAURL is UAA's base URL, e.g. "https://uaa.example.com". Keys come
	// from UAAURL + "/token_keys" unless New is given a KeySource.
	UAAURL string `yaml:"uaa_url"`
	// Issuer is the iss every token must have; default
	// UAAURL + "/oauth/token".
	Issuer string `yaml:"issuer"`
	// Audiences, when set, means a token's aud must contain at least one of
	// them (Cloud Controller uses "cloud_controller").
	Audiences []string `yaml:"audiences"`
	// HTTPClient fetches the keys; nil means a client with a 10s timeout.
	// Set it to trust a private CA.
	HTTPClient *http.Client `yaml:"-"`
	// Leeway is the clock skew allowed when checking exp, nbf and iat,
	// rounded up to whole seconds; default 5s, at most MaxLeeway.
	Leeway time.Duration `yaml:"leeway"`
	// RefetchInterval is the least time between two key fetches caused by
	// tokens with an unknown kid; default 30s. After a failed fetch the
	// next one may come after min(RefetchInterval, 1s).
	RefetchInterval time.Duration `yaml:"refetch_interval"`
	// MaxKeyAge is how long a fetched key set is trusted: a verification
	// after that refetches it in the background, so that a key UAA has
	// retired stops verifying within about MaxKeyAge.
	MaxKeyAge time.Duration `yaml:"max_key_age"`
	// CacheSize is how many verified tokens are remembered; default 4096,
	// negative disables the cache. An entry costs about the token's length
	// plus 1 KiB, so the default holds roughly 10 MiB at most.
	CacheSize int `yaml:"cache_size"`
}

// Defaults fills unset fields and trims a trailing slash from UAAURL.
func (c *Config) Defaults() {
	c.UAAURL = strings.TrimSuffix(c.UAAURL, "/")
	if c.Issuer == "" && c.UAAURL != "" {
		c.Issuer = c.UAAURL + "/oauth/token"
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.MaxKeyAge == 0 {
		c.MaxKeyAge = DefaultMaxKeyAge
	}
	if c.RefetchInterval == 0 {
		c.RefetchInterval = DefaultRefetchInterval
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
}

// Validate reports every problem, joined. Call it after Defaults.
func (c *Config) Validate() error {
	var p config.Problems
	if c.UAAURL != "" {
		if u, err := url.Parse(c.UAAURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("uaa_url %q is not an absolute http(s) URL", c.UAAURL)
		}
	}
	if c.Issuer == "" {
		p.Addf("issuer is required (set issuer or uaa_url)")
	}
	for i, a := range c.Audiences {
		if a == "" {
			p.Addf("audiences[%d] is empty", i)
		}
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		p.Addf("leeway %v is outside 0..%v", c.Leeway, MaxLeeway)
	}
	if c.MaxKeyAge < 0 {
		p.Addf("max_key_age %v is negative", c.MaxKeyAge)
	}
	if c.RefetchInterval < 0 {
		p.Addf("refetch_interval %v is negative", c.RefetchInterval)
	}
	return p.Err()
}
