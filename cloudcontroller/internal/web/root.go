package web

import (
	"net/http"
)

type rootLinks struct {
	Self              *Link        `json:"self"`
	BitsService       *Link        `json:"bits_service"`
	CloudControllerV2 *Link        `json:"cloud_controller_v2"`
	CloudControllerV3 *versionLink `json:"cloud_controller_v3"`
	NetworkPolicyV0   *Link        `json:"network_policy_v0"`
	NetworkPolicyV1   *Link        `json:"network_policy_v1"`
	Login             *Link        `json:"login"`
	UAA               *Link        `json:"uaa"`
	Credhub           *Link        `json:"credhub"`
	Routing           *Link        `json:"routing"`
	Logging           *Link        `json:"logging"`
	LogCache          *Link        `json:"log_cache"`
	LogStream         *Link        `json:"log_stream"`
	AppSSH            *Link        `json:"app_ssh"`
}

type versionLink struct {
	Href string            `json:"href"`
	Meta map[string]string `json:"meta"`
}

func linkOrNil(href string) *Link {
	if href == "" {
		return nil
	}
	return &Link{Href: href}
}

// root is GET /: the discovery document `cf api` reads.
func (s *Server) root(w http.ResponseWriter, _ *http.Request, _ *Actor) error {
	return writeJSON(w, http.StatusOK, map[string]any{"links": rootLinks{
		Self:              &Link{Href: s.opts.ExternalURL},
		CloudControllerV3: &versionLink{Href: s.url("/v3"), Meta: map[string]string{"version": APIVersion}},
		NetworkPolicyV1:   &Link{Href: s.url("/networking/v1/external")},
		Login:             linkOrNil(s.opts.LoginURL),
		UAA:               linkOrNil(s.opts.UAAURL),
		Routing:           &Link{Href: s.url("/routing")},
		LogCache:          linkOrNil(s.opts.LogCacheURL),
	}})
}

// v3Root is GET /v3: links to the resource collections.
func (s *Server) v3Root(w http.ResponseWriter, _ *http.Request, _ *Actor) error {
	links := map[string]Link{"self": {Href: s.url("/v3")}}
	for _, r := range []string{"apps", "audit_events", "buildpacks", "builds", "deployments", "domains", "droplets",
		"feature_flags", "info", "isolation_segments", "organizations", "organization_quotas", "packages", "processes",
		"resource_matches", "roles", "routes", "service_route_bindings", "space_quotas", "spaces", "stacks", "tasks", "users"} {
		links[r] = Link{Href: s.url("/v3/" + r)}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"links": links})
}

// info is GET /v3/info.
func (s *Server) info(w http.ResponseWriter, _ *http.Request, _ *Actor) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"build": "", "cli_version": map[string]string{"minimum": "", "recommended": ""},
		"custom": map[string]string{}, "description": "Anvil", "name": "anvil", "version": 0,
		"osbapi_version": "2.15",
		"links":          map[string]Link{"self": {Href: s.url("/v3/info")}, "support": {Href: ""}},
	})
}
