// Package uaaclient is the Cloud Controller's client of UAA's SCIM API:
// it finds users by name or id with a client_credentials token it caches
// until shortly before expiry.
package uaaclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config names the UAA and the client CC authenticates as (it needs the
// scim.read authority).
type Config struct {
	URL          string `yaml:"url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
}

// Client talks to UAA.
type Client struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// New returns a client; httpClient nil means a client with a 10s timeout.
func New(cfg Config, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	return &Client{cfg: cfg, http: httpClient}
}

// AccessToken returns the client's client_credentials token (cached until
// a minute before it expires); the Diego sync reads log-cache with it.
func (c *Client) AccessToken(ctx context.Context) (string, error) { return c.accessToken(ctx) }

func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.expires) > time.Minute {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("uaa token: %w", err)
	}
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.do(req, &out); err != nil {
		return "", fmt.Errorf("uaa token: %w", err)
	}
	c.token, c.expires = out.AccessToken, time.Now().Add(time.Duration(out.ExpiresIn)*time.Second)
	return c.token, nil
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

type scimUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Origin   string `json:"origin"`
}

func (c *Client) users(ctx context.Context, filter string) ([]scimUser, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"filter": {filter}, "attributes": {"id,userName,origin"}, "count": {"10"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+"/Users?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "bearer "+tok)
	var out struct {
		Resources []scimUser `json:"resources"`
	}
	if err := c.do(req, &out); err != nil {
		return nil, fmt.Errorf("uaa users: %w", err)
	}
	return out.Resources, nil
}

// quote renders a SCIM string literal.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// LookupUser finds username (origin "" = any origin).
func (c *Client) LookupUser(ctx context.Context, username, origin string) (string, string, bool, error) {
	filter := "userName eq " + quote(username)
	if origin != "" {
		filter += " and origin eq " + quote(origin)
	}
	users, err := c.users(ctx, filter)
	if err != nil || len(users) == 0 {
		return "", "", false, err
	}
	return users[0].ID, users[0].Origin, true, nil
}

// UserByID returns the name and origin of a UAA user id.
func (c *Client) UserByID(ctx context.Context, guid string) (string, string, bool, error) {
	users, err := c.users(ctx, "id eq "+quote(guid))
	if err != nil || len(users) == 0 {
		return "", "", false, err
	}
	return users[0].UserName, users[0].Origin, true, nil
}
