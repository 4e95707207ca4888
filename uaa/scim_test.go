package uaa_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/anvilpaas/anvil/uaa"
)

type userJSON struct {
	ID     string `json:"id"`
	Origin string `json:"origin"`
	Meta   struct {
		Version int `json:"version"`
	} `json:"meta"`
	UserName string `json:"userName"`
	Groups   []struct {
		Display string `json:"display"`
	} `json:"groups"`
}

type userList struct {
	Resources    []userJSON `json:"resources"`
	StartIndex   int        `json:"startIndex"`
	ItemsPerPage int        `json:"itemsPerPage"`
	TotalResults int        `json:"totalResults"`
}

// TestCFCreateUser replays `cf create-user bob pw`: the existence check
// by filter, the create, and a repeat that finds the user.
func TestCFCreateUser(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	tok := f.login(t, "admin", adminPassword).AccessToken
	filter := "/Users?filter=" + url.PathEscape(`userName eq "bob" and origin eq "uaa"`)

	var list userList
	r := f.api(t, http.MethodGet, filter, tok, nil, nil)
	if r.json(t, &list); r.Status != http.StatusOK || list.TotalResults != 0 || list.Resources == nil {
		t.Fatalf("existence check: %d %s", r.Status, r.Body)
	}
	body := map[string]any{
		"userName": "bob", "password": "pw", "origin": "",
		"name":   map[string]string{"familyName": "bob", "givenName": "bob"},
		"emails": []map[string]any{{"value": "bob", "primary": true}},
	}
	r = f.api(t, http.MethodPost, "/Users", tok, body, nil)
	var bob userJSON
	if r.json(t, &bob); r.Status != http.StatusCreated || bob.ID == "" || bob.Origin != "uaa" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodPost, "/Users", tok, body, nil)
	if code, _ := r.oauthErr(t); r.Status != http.StatusConflict || code != "scim_resource_already_exists" || !strings.Contains(string(r.Body), bob.ID) {
		t.Fatalf("duplicate create: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodGet, filter, tok, nil, nil)
	if r.json(t, &list); list.TotalResults != 1 || list.Resources[0].ID != bob.ID || list.Resources[0].Origin != "uaa" {
		t.Fatalf("lookup after create: %s", r.Body)
	}
	// bob can log in, and the default groups every new user joins give him
	// the scopes the cf client asks for: enough to use the Cloud Controller.
	if got := f.login(t, "bob", "pw").Scope; got != "cloud_controller.read openid password.write uaa.user" {
		t.Fatalf("bob's scopes %q, want the default groups the cf client allows", got)
	}
}

func TestSCIMUsers(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	tok := f.clientToken(t, "admin-client", "admin-client-secret")
	for _, n := range []string{"carol", "dave", "erin", "frank"} {
		r := f.api(t, http.MethodPost, "/Users", tok, map[string]any{
			"userName": n, "password": "pw-" + n, "emails": []map[string]any{{"value": n + "@example.com"}},
		}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", n, r.Status, r.Body)
		}
	}

	tests := []struct {
		name      string
		query     string
		wantNames []string
		wantTotal int
	}{
		{"filter eq", `filter=userName eq "dave"`, []string{"dave"}, 1},
		{"filter case-insensitive value and attribute", `filter=USERNAME eq "DAVE"`, []string{"dave"}, 1},
		{"filter sw and or", `filter=userName sw "c" or userName sw "e"&sortBy=userName`, []string{"carol", "erin"}, 2},
		{"filter co on email", `filter=emails.value co "frank@"`, []string{"frank"}, 1},
		{"paging", `sortBy=userName&startIndex=2&count=2`, []string{"carol", "dave"}, 5},
		{"descending", `sortBy=userName&sortOrder=descending&count=1`, []string{"frank"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var list userList
			r := f.api(t, http.MethodGet, "/Users?"+q.Encode(), tok, nil, nil)
			if r.json(t, &list); r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			var names []string
			for _, u := range list.Resources {
				names = append(names, u.UserName)
			}
			if strings.Join(names, ",") != strings.Join(tt.wantNames, ",") || list.TotalResults != tt.wantTotal {
				t.Fatalf("got %v (total %d), want %v (total %d)", names, list.TotalResults, tt.wantNames, tt.wantTotal)
			}
		})
	}

	t.Run("attributes", func(t *testing.T) {
		t.Parallel()
		r := f.api(t, http.MethodGet, "/Users?attributes=id,origin&filter="+url.QueryEscape(`userName eq "carol"`), tok, nil, nil)
		var raw struct {
			Resources []map[string]any `json:"resources"`
		}
		if r.json(t, &raw); len(raw.Resources) != 1 || len(raw.Resources[0]) != 2 || raw.Resources[0]["origin"] != "uaa" {
			t.Fatalf("attributes: %s", r.Body)
		}
	})

	errorCases := []struct {
		name, method, path string
		body               any
		header             map[string]string
		token              string
		wantStatus         int
		wantCode           string
	}{
		{"bad filter", "GET", "/Users?filter=" + url.QueryEscape(`userName eq`), nil, nil, tok, 400, "invalid_filter"},
		{"unknown filter attribute", "GET", "/Users?filter=" + url.QueryEscape(`shoeSize eq 3`), nil, nil, tok, 400, "invalid_filter"},
		{"bad count", "GET", "/Users?count=-1", nil, nil, tok, 400, "invalid_request"},
		{"bad sortOrder", "GET", "/Users?sortOrder=sideways", nil, nil, tok, 400, "invalid_request"},
		{"no token", "GET", "/Users", nil, nil, "", 401, "unauthorized"},
		{"bad token", "GET", "/Users", nil, nil, "abc.def.ghi", 401, "invalid_token"},
		{"missing user", "GET", "/Users/00000000-0000-0000-0000-000000000000", nil, nil, tok, 404, "scim_resource_not_found"},
		{"no username", "POST", "/Users", map[string]any{"emails": []map[string]string{{"value": "x@y"}}}, nil, tok, 400, "invalid_scim_resource"},
		{"no email", "POST", "/Users", map[string]any{"userName": "zed"}, nil, tok, 400, "invalid_scim_resource"},
		{"password too long", "POST", "/Users", map[string]any{"userName": "zed", "password": strings.Repeat("p", 80), "emails": []map[string]string{{"value": "z@y"}}}, nil, tok, 400, "invalid_password"},
		{"not JSON", "POST", "/Users", "{", nil, tok, 400, "invalid_scim_resource"},
		{"unknown path", "GET", "/nope", nil, nil, tok, 404, "not_found"},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r response
			if s, ok := tt.body.(string); ok {
				r = do(t, tt.method, f.URL+tt.path, strings.NewReader(s), map[string]string{"Authorization": "bearer " + tt.token, "Content-Type": "application/json"})
			} else {
				r = f.api(t, tt.method, tt.path, tt.token, tt.body, tt.header)
			}
			if code, desc := r.oauthErr(t); r.Status != tt.wantStatus || code != tt.wantCode || desc == "" {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tt.wantStatus, tt.wantCode)
			}
		})
	}

	t.Run("insufficient scope", func(t *testing.T) {
		t.Parallel()
		cc := f.clientToken(t, "cc", "cc-secret") // scim.read only
		r := f.api(t, http.MethodPost, "/Users", cc, map[string]any{"userName": "x", "emails": []map[string]string{{"value": "x@y"}}}, nil)
		if code, _ := r.oauthErr(t); r.Status != http.StatusForbidden || code != "insufficient_scope" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

func TestSCIMUpdateDelete(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	tok := f.clientToken(t, "admin-client", "admin-client-secret")
	r := f.api(t, http.MethodPost, "/Users", tok, map[string]any{"userName": "gina", "password": "pw", "emails": []map[string]string{{"value": "g@x"}}}, nil)
	var u userJSON
	r.json(t, &u)
	if r.Header.Get("ETag") != `"0"` {
		t.Fatalf("ETag %q", r.Header.Get("ETag"))
	}
	upd := map[string]any{"userName": "gina", "emails": []map[string]string{{"value": "gina@x"}}, "name": map[string]string{"givenName": "Gina"}}
	r = f.api(t, http.MethodPut, "/Users/"+u.ID, tok, upd, map[string]string{"If-Match": `"0"`})
	var got userJSON
	if r.json(t, &got); r.Status != http.StatusOK || got.Meta.Version != 1 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodPut, "/Users/"+u.ID, tok, upd, map[string]string{"If-Match": `"0"`})
	if r.Status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d %s", r.Status, r.Body)
	}
	// The user changes their own password; the old one is required.
	userTok := f.login(t, "gina", "pw").AccessToken
	r = f.api(t, http.MethodPut, "/Users/"+u.ID+"/password", userTok, map[string]string{"password": "pw2", "oldPassword": "wrong"}, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("password change with a wrong old password: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodPut, "/Users/"+u.ID+"/password", userTok, map[string]string{"password": "pw2", "oldPassword": "pw"}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("password change: %d %s", r.Status, r.Body)
	}
	f.login(t, "gina", "pw2")

	r = f.api(t, http.MethodDelete, "/Users/"+u.ID, tok, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := f.api(t, http.MethodGet, "/Users/"+u.ID, tok, nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("get after delete: %d", r.Status)
	}
}

// TestGroupsDriveScopes: a user's token scopes are its groups intersected
// with the client's scopes.
func TestGroupsDriveScopes(t *testing.T) {
	t.Parallel()
	f := startUAA(t, func(c *uaa.Config) { c.DefaultGroups = []string{} })
	tok := f.clientToken(t, "admin-client", "admin-client-secret")
	r := f.api(t, http.MethodPost, "/Users", tok, map[string]any{"userName": "hal", "password": "pw", "emails": []map[string]string{{"value": "h@x"}}}, nil)
	var hal userJSON
	r.json(t, &hal)

	r = f.api(t, http.MethodPost, "/Groups", tok, map[string]any{"displayName": "cloud_controller.read", "description": "dup"}, nil)
	if r.Status != http.StatusConflict {
		t.Fatalf("duplicate group: %d %s", r.Status, r.Body)
	}
	var groups struct {
		Resources []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"resources"`
	}
	f.api(t, http.MethodGet, "/Groups?filter="+url.QueryEscape(`displayName eq "cloud_controller.read"`), tok, nil, nil).json(t, &groups)
	if len(groups.Resources) != 1 {
		t.Fatalf("group lookup: %+v", groups)
	}
	gid := groups.Resources[0].ID
	r = f.api(t, http.MethodPost, "/Groups/"+gid+"/members", tok, map[string]string{"value": hal.ID, "type": "USER", "origin": "uaa"}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("add member: %d %s", r.Status, r.Body)
	}
	r = f.api(t, http.MethodPost, "/Groups/"+gid+"/members", tok, map[string]string{"value": hal.ID, "type": "USER"}, nil)
	if r.Status != http.StatusConflict {
		t.Fatalf("add member twice: %d %s", r.Status, r.Body)
	}
	// A group the cf client may not ask for does not show up in the token.
	r = f.api(t, http.MethodPost, "/Groups", tok, map[string]any{"displayName": "secret.club", "members": []map[string]string{{"value": hal.ID}}}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create group with a member: %d %s", r.Status, r.Body)
	}
	if got := f.login(t, "hal", "pw").Scope; got != "cloud_controller.read" {
		t.Fatalf("hal's scopes %q, want cloud_controller.read", got)
	}
	r = f.api(t, http.MethodDelete, "/Groups/"+gid+"/members/"+hal.ID, tok, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("remove member: %d %s", r.Status, r.Body)
	}
	if got := f.login(t, "hal", "pw").Scope; got != "" {
		t.Fatalf("hal's scopes after removal %q, want none", got)
	}
}

func TestClientsAPI(t *testing.T) {
	t.Parallel()
	f := startUAA(t, nil)
	tok := f.clientToken(t, "admin-client", "admin-client-secret")
	create := map[string]any{
		"client_id": "app1", "client_secret": "s1", "authorized_grant_types": []string{"client_credentials"},
		"authorities": []string{"scim.read"}, "access_token_validity": 60,
	}
	r := f.api(t, http.MethodPost, "/oauth/clients", tok, create, nil)
	if r.Status != http.StatusCreated || strings.Contains(string(r.Body), "s1") {
		t.Fatalf("create client: %d %s", r.Status, r.Body)
	}
	if r := f.api(t, http.MethodPost, "/oauth/clients", tok, create, nil); r.Status != http.StatusConflict {
		t.Fatalf("duplicate client: %d %s", r.Status, r.Body)
	}
	var tr tokenResp
	f.token(t, basic("app1", "s1"), url.Values{"grant_type": {"client_credentials"}}).json(t, &tr)
	if tr.ExpiresIn != 59 || tr.Scope != "scim.read" {
		t.Fatalf("token of the new client %+v", tr)
	}
	r = f.api(t, http.MethodPut, "/oauth/clients/app1/secret", tok, map[string]string{"secret": "s2"}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("change secret: %d %s", r.Status, r.Body)
	}
	if r := f.token(t, basic("app1", "s1"), url.Values{"grant_type": {"client_credentials"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("old secret after change: %d", r.Status)
	}
	f.token(t, basic("app1", "s2"), url.Values{"grant_type": {"client_credentials"}})
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	f.api(t, http.MethodGet, "/oauth/clients", tok, nil, nil).json(t, &list)
	if list.TotalResults != 4 {
		t.Fatalf("%d clients, want 4", list.TotalResults)
	}
	bad := map[string]any{"client_id": "app2", "authorized_grant_types": []string{"client_credentials"}}
	if r := f.api(t, http.MethodPost, "/oauth/clients", tok, bad, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("client_credentials client without a secret: %d %s", r.Status, r.Body)
	}
	if r := f.api(t, http.MethodDelete, "/oauth/clients/app1", tok, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("delete client: %d %s", r.Status, r.Body)
	}
	if r := f.api(t, http.MethodGet, "/oauth/clients/app1", tok, nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("get deleted client: %d", r.Status)
	}
	userTok := f.login(t, "admin", adminPassword).AccessToken // no clients.* scope
	if r := f.api(t, http.MethodGet, "/oauth/clients", userTok, nil, nil); r.Status != http.StatusForbidden {
		t.Fatalf("clients API without scope: %d", r.Status)
	}
}
