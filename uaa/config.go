package uaa

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/anvilpaas/anvil/internal/config"
	"github.com/anvilpaas/anvil/internal/logging"
	"github.com/anvilpaas/anvil/internal/ops"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/registrar"
	"github.com/anvilpaas/anvil/uaa/internal/web"
)

// Config is the uaa daemon's configuration file.
type Config struct {
	// Listen is the HTTP address of the OAuth2, SCIM and clients APIs.
	Listen string `yaml:"listen"`
	// URL is the externally visible base URL (https://uaa.example.com).
	// The token issuer is URL + "/oauth/token".
	URL string `yaml:"url"`
	// LoginURL is the externally visible login base URL; default URL.
	LoginURL string         `yaml:"login_url"`
	Ops      ops.Config     `yaml:"ops"`
	Logging  logging.Config `yaml:"logging"`
	// RouteRegistrar registers the daemon's routes with the gorouters
	// over NATS (the production shape); without a NATS URL it is off.
	RouteRegistrar registrar.DaemonConfig `yaml:"route_registrar"`
	Database       pg.Config              `yaml:"database"`

	// SigningKeys are the RSA keys tokens may be signed with; all are
	// published at /token_keys. ActiveKeyID signs new tokens.
	SigningKeys []SigningKey `yaml:"signing_keys"`
	ActiveKeyID string       `yaml:"active_key_id"`
	// SigningEngine is the RSA implementation that signs tokens: "auto"
	// (the default: the system's OpenSSL when libcrypto.so.3 loads, Go's
	// crypto/rsa otherwise), "openssl" (required) or "go". Both make
	// byte-identical signatures; OpenSSL's are about 4× cheaper.
	SigningEngine string `yaml:"signing_engine"`

	// BcryptCost is the cost of new password and secret hashes.
	BcryptCost int `yaml:"bcrypt_cost"`
	// AccessTokenValidity and RefreshTokenValidity are the defaults for
	// clients that set none.
	AccessTokenValidity  time.Duration `yaml:"access_token_validity"`
	RefreshTokenValidity time.Duration `yaml:"refresh_token_validity"`
	Lockout              Lockout       `yaml:"lockout"`
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ClientCacheTTL is how long a client record read to issue or check a
	// token is kept in memory (default 5s; negative turns the cache off).
	// Changes made through this instance apply at once; another
	// instance's within the TTL.
	ClientCacheTTL time.Duration `yaml:"client_cache_ttl"`
	// DefaultGroups are the groups every user created through SCIM joins,
	// as UAA's scim.user.default_groups: without cloud_controller.read a
	// new user's token could not use the Cloud Controller at all.
	DefaultGroups []string `yaml:"default_groups"`

	Bootstrap Bootstrap `yaml:"bootstrap"`
}

// SigningKey is one RSA private key, PEM-encoded (PKCS#1 or PKCS#8), given
// inline or as a file.
type SigningKey struct {
	ID      string `yaml:"id"`
	PEM     string `yaml:"pem"`
	PEMFile string `yaml:"pem_file"`
}

// Lockout locks a user out after repeated failed logins, like UAA's default
// policy: AfterFailures failures within CountWithin lock the account for
// Period.
type Lockout struct {
	AfterFailures int           `yaml:"after_failures"`
	CountWithin   time.Duration `yaml:"count_within"`
	Period        time.Duration `yaml:"period"`
}

// Bootstrap is created (or brought up to date) at every start.
type Bootstrap struct {
	// Groups are created if missing, with a description.
	Groups []BootstrapGroup `yaml:"groups"`
	// Users are created if missing; their groups are added if missing.
	// An existing user's password is left alone.
	Users []BootstrapUser `yaml:"users"`
	// Clients are created or overwritten (secret included).
	Clients []BootstrapClient `yaml:"clients"`
}

// BootstrapGroup is a group to create.
type BootstrapGroup struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// BootstrapUser is a user to create.
type BootstrapUser struct {
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	Email    string   `yaml:"email"`
	Groups   []string `yaml:"groups"`
}

// BootstrapClient is an OAuth client to create or update.
type BootstrapClient struct {
	ID                   string        `yaml:"id"`
	Secret               string        `yaml:"secret"`
	Name                 string        `yaml:"name"`
	Scope                []string      `yaml:"scope"`
	Authorities          []string      `yaml:"authorities"`
	GrantTypes           []string      `yaml:"authorized_grant_types"`
	RedirectURIs         []string      `yaml:"redirect_uri"`
	AutoApprove          []string      `yaml:"autoapprove"`
	AccessTokenValidity  time.Duration `yaml:"access_token_validity"`
	RefreshTokenValidity time.Duration `yaml:"refresh_token_validity"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	c.RouteRegistrar.Defaults()
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8081"
	}
	if c.LoginURL == "" {
		c.LoginURL = c.URL
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
	c.LoginURL = strings.TrimSuffix(c.LoginURL, "/")
	if c.Ops.Listen == "" {
		c.Ops.Listen = "127.0.0.1:9181"
	}
	c.Ops.Defaults()
	if c.BcryptCost == 0 {
		c.BcryptCost = 10
	}
	if c.AccessTokenValidity == 0 {
		c.AccessTokenValidity = 12 * time.Hour
	}
	if c.RefreshTokenValidity == 0 {
		c.RefreshTokenValidity = 30 * 24 * time.Hour
	}
	if c.Lockout.AfterFailures == 0 {
		c.Lockout.AfterFailures = 5
	}
	if c.Lockout.CountWithin == 0 {
		c.Lockout.CountWithin = 5 * time.Minute
	}
	if c.Lockout.Period == 0 {
		c.Lockout.Period = 5 * time.Minute
	}
	if c.ClientCacheTTL == 0 {
		c.ClientCacheTTL = 5 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.DefaultGroups == nil {
		c.DefaultGroups = DefaultUserGroups()
	}
	if c.ActiveKeyID == "" && len(c.SigningKeys) == 1 {
		c.ActiveKeyID = c.SigningKeys[0].ID
	}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var p config.Problems
	p.Add("route_registrar", c.RouteRegistrar.Validate())
	p.Require("listen", c.Listen)
	switch c.SigningEngine {
	case "", "auto", "openssl", "go":
	default:
		p.Addf("signing_engine %q: want auto, openssl or go", c.SigningEngine)
	}
	p.Require("url", c.URL)
	for name, v := range map[string]string{"url": c.URL, "login_url": c.LoginURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("%s %q is not an absolute http(s) URL", name, v)
		}
	}
	p.Add("ops", c.Ops.Validate())
	p.Add("logging", c.Logging.Validate())
	p.Require("database.dsn", c.Database.DSN)
	if len(c.SigningKeys) == 0 {
		p.Addf("signing_keys: at least one key is required")
	}
	ids := map[string]bool{}
	for i, k := range c.SigningKeys {
		if k.ID == "" {
			p.Addf("signing_keys[%d].id is required", i)
		}
		if ids[k.ID] {
			p.Addf("signing_keys[%d]: duplicate id %q", i, k.ID)
		}
		ids[k.ID] = true
		if (k.PEM == "") == (k.PEMFile == "") {
			p.Addf("signing_keys[%d]: exactly one of pem and pem_file is required", i)
		}
	}
	if len(c.SigningKeys) > 0 && !ids[c.ActiveKeyID] {
		p.Addf("active_key_id %q names no signing key", c.ActiveKeyID)
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		p.Addf("bcrypt_cost %d is outside 4..31", c.BcryptCost)
	}
	if c.Lockout.AfterFailures < 1 {
		p.Addf("lockout.after_failures must be at least 1")
	}
	for i, u := range c.Bootstrap.Users {
		if u.Username == "" || u.Password == "" {
			p.Addf("bootstrap.users[%d]: username and password are required", i)
		}
	}
	for i, g := range c.Bootstrap.Groups {
		if g.Name == "" {
			p.Addf("bootstrap.groups[%d]: name is required", i)
		}
	}
	for i, cl := range c.Bootstrap.Clients {
		if cl.ID == "" {
			p.Addf("bootstrap.clients[%d]: id is required", i)
		}
		if len(cl.GrantTypes) == 0 {
			p.Addf("bootstrap.clients[%d] (%s): authorized_grant_types is required", i, cl.ID)
		}
		for _, g := range cl.GrantTypes {
			if !web.KnownGrantType(g) {
				p.Addf("bootstrap.clients[%d] (%s): unknown grant type %q", i, cl.ID, g)
			}
		}
	}
	return p.Err()
}

// DefaultUserGroups are UAA's default groups for new users.
func DefaultUserGroups() []string {
	return []string{
		"openid", "scim.me", "cloud_controller.read", "cloud_controller.write", "password.write", "uaa.user",
		"approvals.me", "oauth.approvals", "profile", "roles", "user_attributes",
		"cloud_controller_service_permissions.read", "uaa.offline_token",
	}
}

// LoggingConfig returns the logging section.
func (c *Config) LoggingConfig() logging.Config { return c.Logging }

// Issuer returns the token issuer, URL + "/oauth/token".
func (c *Config) Issuer() string { return fmt.Sprintf("%s/oauth/token", c.URL) }
