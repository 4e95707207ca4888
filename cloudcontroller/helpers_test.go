package cloudcontroller_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	apiuaa "github.com/anvilpaas/anvil/api/uaa"
	"github.com/anvilpaas/anvil/cloudcontroller"
	"github.com/anvilpaas/anvil/internal/pg"
	"github.com/anvilpaas/anvil/internal/testenv"
	"github.com/anvilpaas/anvil/internal/tokenverify/tokentest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeUAA is the small part of UAA the Cloud Controller calls: token keys,
// the client_credentials grant and SCIM user lookups.
type fakeUAA struct {
	*httptest.Server
	iss *tokentest.Issuer

	mu    sync.Mutex
	users map[string][2]string // id → {userName, origin}
}

func newFakeUAA(t testing.TB) *fakeUAA {
	t.Helper()
	f := &fakeUAA{users: map[string][2]string{}}
	mux := http.NewServeMux()
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	f.iss = tokentest.New(t)
	f.iss.URL = f.URL
	jwk := f.iss.JWK(t)
	mux.HandleFunc("GET /token_keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(apiuaa.JWKSet{Keys: []apiuaa.JWK{jwk}})
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "cloud_controller" || secret != "cc-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": f.iss.ClientToken(t, "cloud_controller", "scim.read"), "token_type": "bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /Users", func(w http.ResponseWriter, r *http.Request) {
		filter := r.URL.Query().Get("filter")
		f.mu.Lock()
		defer f.mu.Unlock()
		var res []map[string]string
		for id, u := range f.users {
			if strings.Contains(filter, `"`+u[0]+`"`) || strings.Contains(filter, `"`+id+`"`) {
				if strings.Contains(filter, "origin eq") && !strings.Contains(filter, `origin eq "`+u[1]+`"`) {
					continue
				}
				res = append(res, map[string]string{"id": id, "userName": u[0], "origin": u[1]})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"resources": res})
	})
	return f
}

func (f *fakeUAA) addUser(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id] = [2]string{name, "uaa"}
}

// cc is a running Cloud Controller with a fresh database.
type cc struct {
	URL string
	uaa *fakeUAA
	t   testing.TB
	dsn string
}

func startCC(t *testing.T) *cc { return startCCB(t) }

func startCCB(t testing.TB) *cc {
	t.Helper()
	uaa := newFakeUAA(t)
	port := testenv.FreePort(t)
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := cloudcontroller.Config{
		Listen:      listen,
		ExternalURL: "http://" + listen,
		Database:    pg.Config{DSN: testenv.Postgres(t)},
		LogCacheURL: "http://log-cache.test",
		UAA: cloudcontroller.UAAConfig{
			URL: uaa.URL,
		},
	}
	cfg.Ops.Listen = "127.0.0.1:0"
	cfg.UAA.Client.ClientID, cfg.UAA.Client.ClientSecret = "cloud_controller", "cc-secret"
	c, err := cloudcontroller.New(cfg, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, c)
	return &cc{URL: cfg.ExternalURL, uaa: uaa, t: t, dsn: cfg.Database.DSN}
}

// Scopes of the tokens tests use.
var (
	userScopes  = []string{"cloud_controller.read", "cloud_controller.write", "openid"}
	adminScopes = []string{"cloud_controller.admin", "cloud_controller.read", "cloud_controller.write"}
)

func (c *cc) admin() string {
	return c.uaa.iss.UserToken(c.t, "admin-guid", "admin", adminScopes...)
}

func (c *cc) user(guid, name string, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = userScopes
	}
	c.uaa.addUser(guid, name)
	return c.uaa.iss.UserToken(c.t, guid, name, scopes...)
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// cfErr returns the first error of a CF error envelope.
func (r resp) cfErr(t testing.TB) (code int, title, detail string) {
	t.Helper()
	var env struct {
		Errors []struct {
			Code   int    `json:"code"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	r.decode(t, &env)
	if len(env.Errors) != 1 {
		t.Fatalf("error envelope %s", r.Body)
	}
	e := env.Errors[0]
	return e.Code, e.Title, e.Detail
}

// do sends a request the way the cf CLI does: JSON content type even on
// GET, lowercase bearer.
func (c *cc) do(method, path, token string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = strings.NewReader(string(data))
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// must asserts the status and returns the response.
func (c *cc) must(status int, method, path, token string, body any) resp {
	c.t.Helper()
	r := c.do(method, path, token, body)
	if r.Status != status {
		c.t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, status)
	}
	return r
}

type resource struct {
	GUID          string `json:"guid"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	Relationships map[string]struct {
		Data *struct {
			GUID string `json:"guid"`
		} `json:"data"`
	} `json:"relationships"`
}

type listResp struct {
	Pagination struct {
		TotalResults int `json:"total_results"`
		TotalPages   int `json:"total_pages"`
		Next         *struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"pagination"`
	Resources []resource                  `json:"resources"`
	Included  map[string][]map[string]any `json:"included"`
}

func (c *cc) list(path, token string) listResp {
	c.t.Helper()
	var l listResp
	c.must(http.StatusOK, http.MethodGet, path, token, nil).decode(c.t, &l)
	return l
}

func (c *cc) createOrg(name string) string {
	c.t.Helper()
	var o resource
	c.must(http.StatusCreated, http.MethodPost, "/v3/organizations", c.admin(), map[string]any{"name": name, "suspended": false}).decode(c.t, &o)
	return o.GUID
}

func (c *cc) createSpace(org, name string) string {
	c.t.Helper()
	var s resource
	c.must(http.StatusCreated, http.MethodPost, "/v3/spaces", c.admin(), map[string]any{
		"name": name, "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org}}},
	}).decode(c.t, &s)
	return s.GUID
}

// grant gives user (by guid) a role as admin.
func (c *cc) grant(roleType, userGUID, target string) {
	c.t.Helper()
	rel := map[string]any{"user": map[string]any{"data": map[string]string{"guid": userGUID}}}
	if strings.HasPrefix(roleType, "organization_") {
		rel["organization"] = map[string]any{"data": map[string]string{"guid": target}}
	} else {
		rel["space"] = map[string]any{"data": map[string]string{"guid": target}}
	}
	c.must(http.StatusCreated, http.MethodPost, "/v3/roles", c.admin(), map[string]any{"type": roleType, "relationships": rel})
}
