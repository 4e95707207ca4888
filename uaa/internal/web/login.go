package web

import (
	"net/http"
)

// loginInfo is the document GET /login (and /info) returns as JSON. The cf
// CLI reads prompts (every value an array of at least two strings) and
// app.version.
type loginInfo struct {
	App            map[string]string   `json:"app"`
	Links          map[string]string   `json:"links"`
	Prompts        map[string][]string `json:"prompts"`
	ZoneName       string              `json:"zone_name"`
	EntityID       string              `json:"entityID"`
	CommitID       string              `json:"commit_id"`
	Timestamp      string              `json:"timestamp"`
	ShowLoginLinks bool                `json:"showLoginLinks"`
	IDPDefinitions map[string]string   `json:"idpDefinitions"`
}

func (s *Server) handleLogin(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, loginInfo{
		App: map[string]string{"version": Version},
		Links: map[string]string{
			"uaa":      s.opts.URL,
			"login":    s.opts.LoginURL,
			"passwd":   "/forgot_password",
			"register": "/create_account",
		},
		Prompts: map[string][]string{
			"username": {"text", "Email"},
			"password": {"password", "Password"},
		},
		ZoneName:       "uaa",
		EntityID:       "login",
		CommitID:       "anvil",
		Timestamp:      "",
		ShowLoginLinks: true,
		IDPDefinitions: map[string]string{},
	})
}

func (s *Server) handleTokenKeys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.keys.JWKS())
}

func (s *Server) handleTokenKey(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.keys.ActiveJWK())
}
